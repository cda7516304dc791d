import { Role } from '@a2a-js/sdk';
import {
  ClientFactory,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
} from '@a2a-js/sdk/client';
import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { cpus } from 'node:os';
import { setTimeout as sleep } from 'node:timers/promises';
import pg from 'pg';
import { startNode, type Started } from './lib/processes.js';

/**
 * Orchestrator benchmark: two-step workflows over echo agents (found by
 * skill through the registry), all apps on this machine.
 * - Baseline, measured in the same run: a direct A2A SendMessage to the echo
 *   agent with the SDK client, one at a time.
 * - Added latency per step: runs one at a time; a run's duration (from
 *   PostgreSQL's own timestamps: created, completed) minus two direct calls,
 *   halved. Direct calls and runs alternate, each after the same pause, so
 *   that both meet the machine in the same state.
 * - Throughput: RUNS runs started at once; steps per second until the last
 *   one completes.
 */
// Long enough that starting the burst and draining its tail (about a second each) do not
// dominate the figure.
const RUNS = Number(process.env.BENCH_RUNS ?? 2_000);
const SEQUENTIAL = Number(process.env.BENCH_SEQUENTIAL ?? 200);
const KEY = 'bench-local-key-0123456789';
const PORTS = { registry: 9221, agent: 9222, orchestrator: 9223 };
const DATABASE = process.env.BENCH_DATABASE_NAME ?? 'a2a_bench';
/** Quiet time before each measured direct call and each measured run. */
const PAUSE_MS = 20;

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
    const directCall = async (index: number): Promise<number> => {
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
      return performance.now() - begin;
    };
    // Warm-up, then back-to-back calls (reported for reference: a machine kept busy answers faster).
    for (let index = 0; index < 20; index++) await directCall(index);
    const backToBack: number[] = [];
    for (let index = 0; index < SEQUENTIAL; index++) backToBack.push(await directCall(index));

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

    // Added latency: one run at a time, each after a direct call, both after the same pause, so
    // that the baseline and the runs meet the machine in the same state (on a VM, a process that
    // has been idle for a while answers more slowly than one kept busy by back-to-back calls).
    const direct: number[] = [];
    const sequentialIds: string[] = [];
    for (let n = 0; n < SEQUENTIAL + 20; n++) {
      await sleep(PAUSE_MS);
      const directMs = await directCall(n);
      await sleep(PAUSE_MS);
      const id = await startRun(n);
      // Durations come from PostgreSQL's timestamps, so the wait need not be tight: polling
      // every few milliseconds would load the machine while the run is measured.
      for (let poll = 0; ; poll++) {
        await sleep(poll === 0 ? 30 : 10);
        const [row] = await durations([id]);
        if (row?.status === 'completed') break;
        if (row?.status === 'failed') throw new Error(`run ${id} failed`);
      }
      if (n >= 20) {
        direct.push(directMs);
        sequentialIds.push(id);
      }
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
| direct A2A SendMessage to the echo agent (SDK client), alternating with the runs, each after a ${PAUSE_MS} ms pause, p50 / p99 | ${directP50.toFixed(2)} / ${percentile(direct, 99).toFixed(2)} ms | baseline |
| the same direct call back to back (for reference), p50 / p99 | ${percentile(backToBack, 50).toFixed(2)} / ${percentile(backToBack, 99).toFixed(2)} ms | |
| two-step run, one at a time, after a ${PAUSE_MS} ms pause, p50 / p99 (PostgreSQL timestamps) | ${percentile(runMs, 50).toFixed(2)} / ${percentile(runMs, 99).toFixed(2)} ms | |
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
