import { Role } from '@a2a-js/sdk';
import {
  ClientFactory,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from '@a2a-js/sdk/client';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import pg from 'pg';
import { startNode, type Started } from './lib/processes.js';

/**
 * Orchestrator benchmark: two-step workflows over echo agents (found by
 * skill through the registry), all apps on this machine.
 * - Baseline, measured in the same run: a direct A2A SendMessage to the echo
 *   agent with the SDK client, one at a time.
 * - Added latency per step: runs one at a time; a run's duration (from
 *   PostgreSQL's own timestamps: created, completed) minus two direct calls,
 *   halved.
 * - Throughput: RUNS runs started at once; steps per second until the last
 *   one completes.
 */
const RUNS = Number(process.env.BENCH_RUNS ?? 1_000);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 200);
const KEY = 'bench-local-key-0123456789';
const PORTS = { registry: 9221, agent: 9222, orchestrator: 9223 };
const DATABASE = process.env.BENCH_DATABASE_NAME ?? 'a2a_bench';

const percentile = (values: number[], p: number) => {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
};

async function main(): Promise<void> {
  const env = {
    NODE_ENV: 'production',
    BOOTSTRAP_API_KEY: KEY,
    BOOTSTRAP_TENANT: 'bench',
    DATABASE_NAME: DATABASE,
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    THROTTLE_DEFAULT_LIMIT: '1000000000',
    THROTTLE_MESSAGE_LIMIT: '1000000000',
    REGISTRY_ALLOW_PRIVATE_URLS: 'true',
  };
  execFileSync(process.execPath, ['dist/libs/persistence/src/cli/migrate.js', 'run'], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  const db = new pg.Client({
    host: process.env.DATABASE_HOST ?? '127.0.0.1',
    port: Number(process.env.DATABASE_PORT ?? 5432),
    user: process.env.DATABASE_USER ?? 'postgres',
    password: process.env.DATABASE_PASSWORD ?? 'postgres',
    database: DATABASE,
  });
  await db.connect();
  // Registrations other benchmarks left in this database (their agents are gone) would be
  // discovered too: the registry lists agents shared by other tenants.
  await db.query('DELETE FROM agent_registrations');

  const started: Started[] = [];
  const url = (app: keyof typeof PORTS) => `http://127.0.0.1:${PORTS[app]}`;
  try {
    started.push(
      await startNode(
        'dist/apps/registry/src/main.js',
        { ...env, PORT: String(PORTS.registry), REDIS_KEY_PREFIX: 'a2a-bench-steps-registry' },
        `${url('registry')}/ready`,
      ),
    );
    started.push(
      await startNode(
        'dist/apps/agent/src/main.js',
        {
          ...env,
          PORT: String(PORTS.agent),
          AGENTS: 'echo',
          A2A_PUBLIC_URL: url('agent'),
          REGISTRY_URL: url('registry'),
          REDIS_KEY_PREFIX: 'a2a-bench-steps-agent',
        },
        `${url('agent')}/ready`,
      ),
    );
    started.push(
      await startNode(
        'dist/apps/orchestrator/src/main.js',
        {
          ...env,
          PORT: String(PORTS.orchestrator),
          REGISTRY_URL: url('registry'),
          REDIS_KEY_PREFIX: 'a2a-bench-steps-orchestrator',
        },
        `${url('orchestrator')}/ready`,
      ),
    );
    const headers = { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' };
    for (let tries = 0; ; tries++) {
      const resolved = await fetch(`${url('registry')}/agents/resolve?skill=echo`, { headers });
      if (resolved.ok) break;
      if (tries > 100) throw new Error('the echo agent did not register');
      await new Promise((resolve) => setTimeout(resolve, 100));
    }

    // Baseline: direct calls with the SDK client, as the step worker makes them.
    const fetchImpl: typeof fetch = (input, init) => {
      const withKey = new Headers(init?.headers);
      withKey.set('authorization', `Bearer ${KEY}`);
      return fetch(input, { ...init, headers: withKey });
    };
    const client = await new ClientFactory({
      transports: [new JsonRpcTransportFactory({ fetchImpl })],
      cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
    }).createFromUrl(`${url('agent')}/agents/echo/`);
    const direct: number[] = [];
    for (let index = 0; index < SEQUENTIAL + 20; index++) {
      const begin = performance.now();
      await client.sendMessage({
        tenant: '',
        message: {
          messageId: randomUUID(),
          contextId: '',
          taskId: '',
          role: Role.ROLE_USER,
          parts: [
            {
              content: { $case: 'text', value: `hello ${index}` },
              mediaType: 'text/plain',
              filename: '',
              metadata: undefined,
            },
          ],
          metadata: undefined,
          extensions: [],
          referenceTaskIds: [],
        },
        configuration: undefined,
        metadata: undefined,
      });
      if (index >= 20) direct.push(performance.now() - begin);
    }
    console.error('done: direct calls');

    const workflow = `bench-${randomUUID().slice(0, 8)}`;
    const saved = await fetch(`${url('orchestrator')}/workflows/${workflow}`, {
      method: 'PUT',
      headers,
      body: JSON.stringify({
        steps: [
          { id: 'first', skill: 'echo', input: 'first ${input.n}' },
          {
            id: 'second',
            skill: 'echo',
            dependsOn: ['first'],
            input: '${steps.first.output.text}',
          },
        ],
      }),
    });
    if (!saved.ok) throw new Error(`saving the workflow: HTTP ${saved.status}`);
    const startRun = async (n: number): Promise<string> => {
      const response = await fetch(`${url('orchestrator')}/workflows/${workflow}/runs`, {
        method: 'POST',
        headers,
        body: JSON.stringify({ input: { n } }),
      });
      if (response.status !== 202) throw new Error(`starting a run: HTTP ${response.status}`);
      return ((await response.json()) as { id: string }).id;
    };
    const durations = async (ids: string[]) =>
      (
        await db.query<{ status: string; ms: number }>(
          `SELECT status, extract(epoch FROM completed_at - created_at) * 1000 AS ms
           FROM workflow_runs WHERE id = ANY($1::uuid[])`,
          [ids],
        )
      ).rows;

    // Added latency: one run at a time.
    const sequentialIds: string[] = [];
    for (let n = 0; n < SEQUENTIAL + 20; n++) {
      const id = await startRun(n);
      for (;;) {
        const [row] = await durations([id]);
        if (row?.status === 'completed') break;
        if (row?.status === 'failed') throw new Error(`run ${id} failed`);
        await new Promise((resolve) => setTimeout(resolve, 2));
      }
      if (n >= 20) sequentialIds.push(id);
    }
    const runMs = (await durations(sequentialIds)).map((row) => Number(row.ms));
    const directP50 = percentile(direct, 50);
    const overheadP50 = (percentile(runMs, 50) - 2 * directP50) / 2;
    console.error('done: sequential runs');

    // Throughput: RUNS runs at once (started by 32 concurrent clients).
    const begin = performance.now();
    const ids: string[] = [];
    let next = 0;
    await Promise.all(
      Array.from({ length: 32 }, async () => {
        while (next < RUNS) ids.push(await startRun(next++));
      }),
    );
    const startedMs = performance.now() - begin;
    for (;;) {
      const { rows } = await db.query<{ done: number; failed: number }>(
        `SELECT count(*) FILTER (WHERE status = 'completed')::int AS done,
                count(*) FILTER (WHERE status = 'failed')::int AS failed
         FROM workflow_runs WHERE id = ANY($1::uuid[])`,
        [ids],
      );
      if (rows[0].failed > 0) throw new Error(`${rows[0].failed} runs failed`);
      if (rows[0].done === RUNS) break;
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    const elapsedS = (performance.now() - begin) / 1000;
    const stepsPerSecond = (2 * RUNS) / elapsedS;
    console.error('done: concurrent runs');

    const cpu = cpus();
    console.log(`## Orchestrator: two-step workflows over an echo agent

Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}; registry, agent app, orchestrator (API and worker in one process), PostgreSQL and Redis all on this machine.

| measurement | value | target |
| --- | --- | --- |
| direct A2A SendMessage to the echo agent (SDK client), p50 / p99 | ${directP50.toFixed(2)} / ${percentile(direct, 99).toFixed(2)} ms | baseline |
| two-step run, one at a time, p50 / p99 (PostgreSQL timestamps) | ${percentile(runMs, 50).toFixed(2)} / ${percentile(runMs, 99).toFixed(2)} ms | |
| added latency per step over a direct call, p50 | ${overheadP50.toFixed(2)} ms | <= 3 ms |
| throughput: ${RUNS} runs started at once (${(RUNS / (startedMs / 1000)).toFixed(0)} starts/s), all done in ${elapsedS.toFixed(2)} s | ${stepsPerSecond.toFixed(0)} steps/s | >= 500 steps/s |`);
  } finally {
    await db.end();
    for (const app of started.reverse()) await app.stop();
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
