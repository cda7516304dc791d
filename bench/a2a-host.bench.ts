import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus, totalmem } from 'node:os';
import { benchSql } from './lib/database.js';
import { load, type LoadResult } from './lib/load.js';
import { startNode, type Started } from './lib/processes.js';

/**
 * A2A host benchmark: our agent app (Nest on Fastify, tasks in PostgreSQL)
 * against the SDK's reference Express server (tasks in memory), both serving
 * the same echo agent over JSON-RPC, measured in the same run. The SDK's
 * handler on bare Fastify (no auth, rate limits, metrics or persistence) is
 * measured beside them as the ceiling of a server built on that handler.
 *
 * Each figure is the median of BENCH_ROUNDS rounds (default 3); a round
 * measures the three servers back to back, in an order that alternates
 * between rounds, so that a machine whose speed drifts from one minute to
 * the next (a shared virtual machine) weighs on all of them alike. Ratios are
 * the medians of each round's ratio.
 * BENCH_SECONDS sets the length of each measurement (default 10).
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const WARMUP_SECONDS = Math.max(2, Math.round(SECONDS / 3));
const KEY = 'bench-local-key-0123456789';
const OUR_PORT = 9201;
const REFERENCE_PORT = 9202;
const CEILING_PORT = 9203;

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

type Server = 'ours' | 'reference' | 'ceiling';
const SERVERS: readonly Server[] = ['ours', 'reference', 'ceiling'];

const median = (values: readonly number[]): number => {
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? sorted[middle] : (sorted[middle - 1] + sorted[middle]) / 2;
};

/** A server's figures over the rounds: medians, and the sum of errors. */
interface Measured {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly errors: number;
}

function summarise(results: readonly LoadResult[]): Measured {
  return {
    rps: median(results.map((result) => result.rps)),
    p50: median(results.map((result) => result.p50)),
    p99: median(results.map((result) => result.p99)),
    errors: results.reduce((sum, result) => sum + result.errors + result.non2xx, 0),
  };
}

/** The median over the rounds of one server's figure divided by another's in the same round. */
function ratio(
  rounds: ReadonlyArray<Record<Server, LoadResult>>,
  of: Server,
  to: Server,
  figure: 'rps' | 'p99',
): number {
  return median(rounds.map((round) => round[of][figure] / round[to][figure]));
}

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
  const started: Started[] = [];
  const targets: Record<Server, { url: string; headers: Record<string, string> }> = {
    ours: {
      url: `http://127.0.0.1:${OUR_PORT}/agents/echo/a2a/jsonrpc`,
      headers: { 'a2a-version': '1.0', 'x-api-key': KEY },
    },
    reference: {
      url: `http://127.0.0.1:${REFERENCE_PORT}/a2a/jsonrpc`,
      headers: { 'a2a-version': '1.0' },
    },
    ceiling: {
      url: `http://127.0.0.1:${CEILING_PORT}/a2a/jsonrpc`,
      headers: { 'a2a-version': '1.0' },
    },
  };
  const rows: string[] = [];
  const ceilingRows: string[] = [];
  try {
    started.push(
      await startNode(
        'dist/apps/agent/src/main.js',
        { ...env, PORT: String(OUR_PORT), HOST: '127.0.0.1' },
        `http://127.0.0.1:${OUR_PORT}/ready`,
      ),
      await startNode(
        'dist-bench/bench/reference-server.js',
        { PORT: String(REFERENCE_PORT) },
        `http://127.0.0.1:${REFERENCE_PORT}/.well-known/agent-card.json`,
      ),
      await startNode(
        'dist-bench/bench/sdk-fastify-server.js',
        { PORT: String(CEILING_PORT) },
        `http://127.0.0.1:${CEILING_PORT}/.well-known/agent-card.json`,
      ),
    );
    for (const [reply, task] of [
      ['Message', false],
      ['Task', true],
    ] as const) {
      for (const connections of [10, 100]) {
        const run = (server: Server, seconds: number) =>
          load({ ...targets[server], body: body(task), connections, seconds });
        for (const server of SERVERS) await run(server, WARMUP_SECONDS);
        const rounds: Array<Record<Server, LoadResult>> = [];
        for (let round = 0; round < ROUNDS; round++) {
          const order = round % 2 === 0 ? SERVERS : [...SERVERS].reverse();
          const results: Partial<Record<Server, LoadResult>> = {};
          for (const server of order) results[server] = await run(server, SECONDS);
          rounds.push(results as Record<Server, LoadResult>);
        }
        const [o, r, c] = SERVERS.map((server) => summarise(rounds.map((round) => round[server])));
        rows.push(
          `| ${reply} | ${connections} | ${o.rps.toFixed(0)} | ${r.rps.toFixed(0)} | **${ratio(rounds, 'ours', 'reference', 'rps').toFixed(2)}x** | ` +
            `${o.p50} / ${o.p99} | ${r.p50} / ${r.p99} | ${ratio(rounds, 'ours', 'reference', 'p99').toFixed(2)} | ${o.errors} / ${r.errors} |`,
        );
        ceilingRows.push(
          `| ${reply} | ${connections} | ${c.rps.toFixed(0)} | ${ratio(rounds, 'ceiling', 'reference', 'rps').toFixed(2)}x | ` +
            `${c.p50} / ${c.p99} | ${ratio(rounds, 'ceiling', 'reference', 'p99').toFixed(2)} | ${ratio(rounds, 'ours', 'ceiling', 'rps').toFixed(2)} | ${c.errors} |`,
        );
        console.error(`done: ${reply} reply, c=${connections}`);
      }
    }
  } finally {
    await Promise.all(started.map((server) => server.stop()));
  }
  const cpu = cpus();
  console.log(`## A2A host: our agent app vs the SDK reference Express server

Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}. Medians of ${ROUNDS} rounds of ${SECONDS} s per server after ${WARMUP_SECONDS} s of warm-up; in each round the servers are measured back to back; one load generator (autocannon) on the same machine.
Ours: agent app, echo agent, JSON-RPC, API key auth, rate limits on, tasks persisted in PostgreSQL. Reference: SDK ${'1.3'} Express server, no auth, tasks in memory.

| reply | connections | ours RPS | reference RPS | RPS ratio | ours p50 / p99 ms | reference p50 / p99 ms | p99 ratio (ours / ref) | errors (ours / ref) |
| --- | --- | --- | --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Targets: RPS ratio >= 2.5x on a Message reply, >= 1.5x on a Task reply; p99 at c=100 <= 1/4 of the reference's.

Ceiling: the SDK's request handler and JSON-RPC transport on bare Fastify, tasks in memory, no authentication, rate limits, metrics, logs or persistence, measured in the same rounds. It is what any server built on that handler could serve on this machine; "ours / ceiling" is the share of it our agent app keeps.

| reply | connections | ceiling RPS | ceiling / reference RPS | ceiling p50 / p99 ms | p99 ratio (ceiling / ref) | ours / ceiling RPS | errors |
| --- | --- | --- | --- | --- | --- | --- | --- |
${ceilingRows.join('\n')}`);
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
