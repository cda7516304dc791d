import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { benchSql } from './lib/database.js';
import { load, type LoadResult } from './lib/load.js';
import { startNode } from './lib/processes.js';

/**
 * A2A host benchmark: our agent app (Nest on Fastify, tasks in PostgreSQL)
 * against the SDK's reference Express server (tasks in memory), both serving
 * the same echo agent over JSON-RPC, measured in the same run.
 * BENCH_SECONDS sets the length of each measurement (default 10).
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const WARMUP_SECONDS = Math.max(2, Math.round(SECONDS / 3));
const KEY = 'bench-local-key-0123456789';
const OUR_PORT = 9201;
const REFERENCE_PORT = 9202;

const body = (replyWithTask: boolean) =>
  JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'SendMessage',
    params: {
      message: {
        messageId: randomUUID(),
        role: 'ROLE_USER',
        parts: [{ text: 'hello, benchmark' }],
        ...(replyWithTask ? { metadata: { reply: 'task' } } : {}),
      },
    },
  });

async function main(): Promise<void> {
  const env = {
    NODE_ENV: 'production',
    BOOTSTRAP_API_KEY: KEY,
    DATABASE_NAME: process.env.BENCH_DATABASE_NAME ?? 'a2a_bench',
    REDIS_KEY_PREFIX: 'a2a-bench',
    LOG_LEVEL: 'warn',
    AGENTS: 'echo',
    THROTTLE_DEFAULT_LIMIT: '1000000000',
    THROTTLE_MESSAGE_LIMIT: '1000000000',
  };
  execFileSync(process.execPath, ['dist/libs/persistence/src/cli/migrate.js', 'run'], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  // Start from an empty task table, so that runs are comparable.
  await benchSql(env.DATABASE_NAME, 'TRUNCATE a2a_tasks, a2a_push_configs, a2a_task_events');
  const ours = await startNode(
    'dist/apps/agent/src/main.js',
    { ...env, PORT: String(OUR_PORT), HOST: '127.0.0.1' },
    `http://127.0.0.1:${OUR_PORT}/ready`,
  );
  const reference = await startNode(
    'dist-bench/bench/reference-server.js',
    { PORT: String(REFERENCE_PORT) },
    `http://127.0.0.1:${REFERENCE_PORT}/.well-known/agent-card.json`,
  );

  const targets = {
    ours: {
      url: `http://127.0.0.1:${OUR_PORT}/agents/echo/a2a/jsonrpc`,
      headers: { 'a2a-version': '1.0', 'x-api-key': KEY },
    },
    reference: {
      url: `http://127.0.0.1:${REFERENCE_PORT}/a2a/jsonrpc`,
      headers: { 'a2a-version': '1.0' },
    },
  };
  const rows: string[] = [];
  try {
    for (const [reply, task] of [
      ['Message', false],
      ['Task', true],
    ] as const) {
      for (const connections of [10, 100]) {
        const results: Record<string, LoadResult> = {};
        for (const [name, target] of Object.entries(targets)) {
          await load({ ...target, body: body(task), connections, seconds: WARMUP_SECONDS });
          results[name] = await load({
            ...target,
            body: body(task),
            connections,
            seconds: SECONDS,
          });
        }
        const { ours: o, reference: r } = results;
        rows.push(
          `| ${reply} | ${connections} | ${o.rps.toFixed(0)} | ${r.rps.toFixed(0)} | **${(o.rps / r.rps).toFixed(2)}x** | ` +
            `${o.p50} / ${o.p99} | ${r.p50} / ${r.p99} | ${(o.p99 / r.p99).toFixed(2)} | ${o.errors + o.non2xx} / ${r.errors + r.non2xx} |`,
        );
        console.error(`done: ${reply} reply, c=${connections}`);
      }
    }
  } finally {
    await Promise.all([ours.stop(), reference.stop()]);
  }
  const cpu = cpus();
  console.log(`## A2A host: our agent app vs the SDK reference Express server

Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. ${SECONDS} s per measurement after ${WARMUP_SECONDS} s of warm-up; one load generator (autocannon) on the same machine.
Ours: agent app, echo agent, JSON-RPC, API key auth, rate limits on, tasks persisted in PostgreSQL. Reference: SDK ${'1.3'} Express server, no auth, tasks in memory.

| reply | connections | ours RPS | reference RPS | RPS ratio | ours p50 / p99 ms | reference p50 / p99 ms | p99 ratio (ours / ref) | errors (ours / ref) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Targets: RPS ratio >= 2.5x on a Message reply, >= 1.5x on a Task reply; p99 at c=100 <= 1/4 of the reference's.`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
