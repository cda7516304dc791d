import {
  freePort,
  openTestDataSource,
  spawnApp,
  waitFor,
  type SpawnedApp,
  useIsolatedDatabase,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DataSource } from 'typeorm';

const RUNS = 50;

// Its apps act on every row they see (sweeps, probes, reconcilers): a database of its own.
useIsolatedDatabase('durable');

/**
 * Durability of runs, with the orchestrator split as in production: an API
 * process (WORKER_MODE=http) and a worker process (WORKER_MODE=worker) on a
 * Redis of the test's own, so that killing workers and flushing Redis
 * disturbs nothing else. Each run calls a non-idempotent step (the slow
 * agent, ~0.6 s) and then an idempotent one; the agent app's task table
 * shows how often the non-idempotent step's agent was called.
 */
describe('orchestrator durability: 50 concurrent runs', () => {
  const TENANT = `durable-${randomUUID().slice(0, 8)}`;
  const KEY = `durable-key-${randomUUID()}`;
  const tenant = { BOOTSTRAP_TENANT: TENANT, BOOTSTRAP_API_KEY: KEY };
  let redisServer: ChildProcess;
  let redis: Redis;
  let orchestratorEnv: Record<string, string>;
  let registry: SpawnedApp;
  let agents: SpawnedApp;
  let api: SpawnedApp;
  let worker: SpawnedApp;
  let db: DataSource;
  let workflow: string;

  const startWorker = () => spawnApp('orchestrator', { ...orchestratorEnv, WORKER_MODE: 'worker' });

  const post = async <T>(path: string, body: unknown): Promise<{ status: number; body: T }> => {
    const response = await fetch(`${api.url}${path}`, {
      method: path.startsWith('/workflows/') && !path.endsWith('/runs') ? 'PUT' : 'POST',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };

  const startRuns = async (phase: string, count = RUNS): Promise<string[]> =>
    Promise.all(
      Array.from({ length: count }, async (_, index) => {
        const started = await post<{ id: string }>(`/workflows/${workflow}/runs`, {
          input: { tag: `${phase}-${index}` },
        });
        expect(started.status).toBe(202);
        return started.body.id;
      }),
    );

  const statuses = async (ids: string[]) =>
    Object.fromEntries(
      (
        await db.query<Array<{ status: string; count: number }>>(
          `SELECT status, count(*)::int AS count FROM workflow_runs WHERE id = ANY($1::uuid[]) GROUP BY status`,
          [ids],
        )
      ).map((row) => [row.status, row.count]),
    ) as Record<string, number>;

  /** Calls of the non-idempotent step's agent for these runs: tasks at the agent, by run tag. */
  const slowCalls = async (phase: string) =>
    db.query<Array<{ tag: string; calls: number }>>(
      `SELECT tag, count(*)::int AS calls FROM (
         SELECT jsonb_path_query_first(task, '$.history[*].parts[*].data.tag') #>> '{}' AS tag
         FROM a2a_tasks WHERE tenant_id = $1 AND agent = 'slow') t
       WHERE tag LIKE $2 GROUP BY tag`,
      [TENANT, `${phase}-%`],
    );

  beforeAll(async () => {
    const redisPort = await freePort();
    redisServer = spawn(
      'redis-server',
      ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    redis = new Redis({ port: redisPort, host: '127.0.0.1', lazyConnect: true });
    await waitFor(async () => (await redis.ping().catch(() => '')) === 'PONG', {
      what: 'the private Redis',
    });
    const prefix = `${process.env.REDIS_KEY_PREFIX}-durable`;
    registry = await spawnApp('registry', { ...tenant, REDIS_KEY_PREFIX: `${prefix}-registry` });
    agents = await spawnApp('agent', {
      ...tenant,
      AGENTS: 'slow,echo',
      REGISTRY_URL: registry.url,
      REDIS_KEY_PREFIX: `${prefix}-agents`,
      THROTTLE_MESSAGE_LIMIT: '100000',
    });
    orchestratorEnv = {
      ...tenant,
      REGISTRY_URL: registry.url,
      REDIS_PORT: String(redisPort),
      REDIS_KEY_PREFIX: 'orchestrator',
    };
    [api, worker] = await Promise.all([
      spawnApp('orchestrator', { ...orchestratorEnv, WORKER_MODE: 'http' }),
      startWorker(),
    ]);
    db = await openTestDataSource();
    await waitFor(
      async () =>
        (
          await Promise.all(
            ['long-running', 'echo'].map((skill) =>
              fetch(`${registry.url}/agents/resolve?skill=${skill}`, {
                headers: { authorization: `Bearer ${KEY}` },
              }),
            ),
          )
        ).every((response) => response.status === 200),
      { what: 'the agents to register', timeoutMs: 20_000 },
    );
    workflow = `durable-${randomUUID().slice(0, 8)}`;
    const saved = await post(`/workflows/${workflow}`, {
      steps: [
        {
          id: 'work',
          skill: 'long-running',
          idempotent: false,
          input: { steps: 2, intervalMs: 300, tag: '${input.tag}' },
          retry: { attempts: 5, backoffMs: 200 },
          timeoutMs: 20_000,
        },
        {
          id: 'report',
          skill: 'echo',
          dependsOn: ['work'],
          input: 'report ${input.tag}',
          retry: { attempts: 5, backoffMs: 200 },
        },
      ],
    });
    expect(saved.status).toBe(200);
  });

  afterAll(async () => {
    await Promise.all([worker?.stop(), api?.stop(), agents?.stop(), registry?.stop()]);
    await db?.destroy();
    redis?.disconnect();
    redisServer?.kill('SIGTERM');
  });

  it('the API process runs no steps: without a worker, runs wait in the queue', async () => {
    await worker.stop('SIGTERM');
    const [id] = await startRuns('no-worker', 1);
    await sleep(1_500);
    const [step] = await db.query<Array<{ status: string }>>(
      `SELECT status FROM step_runs WHERE run_id = $1 AND step_id = 'work'`,
      [id],
    );
    expect(step?.status).toBe('ready');
    worker = await startWorker();
    await waitFor(async () => (await statuses([id])).completed === 1, {
      what: 'the run to complete once a worker is there',
      timeoutMs: 20_000,
    }).catch(async (error: unknown) => {
      // Say why: the step rows hold each attempt's error.
      const steps: unknown = await db.query(`SELECT * FROM step_runs WHERE run_id = $1`, [id]);
      throw new Error(`${(error as Error).message}: ${JSON.stringify(steps)}`, { cause: error });
    });
  });

  it('a worker SIGKILLed mid-run and restarted: every run completes, the non-idempotent agent is called once per run', async () => {
    const ids = await startRuns('kill');
    // Kill the worker while many non-idempotent calls are in flight.
    await waitFor(
      async () =>
        (
          await db.query<Array<{ n: number }>>(
            `SELECT count(*)::int AS n FROM step_runs WHERE run_id = ANY($1::uuid[]) AND step_id = 'work' AND status = 'running'`,
            [ids],
          )
        )[0].n >= 10,
      { what: 'calls in flight', timeoutMs: 20_000, intervalMs: 20 },
    );
    await worker.stop('SIGKILL');
    await sleep(500);
    worker = await startWorker();
    await waitFor(async () => (await statuses(ids)).completed === RUNS, {
      what: `all ${RUNS} runs to complete after the kill`,
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    expect(await statuses(ids)).toEqual({ completed: RUNS });
    const calls = await slowCalls('kill');
    expect(calls).toHaveLength(RUNS);
    expect(calls.filter((row) => row.calls !== 1)).toEqual([]);
    // The interrupted calls were taken over by a later attempt, which adopted the agent's task.
    const [takenOver] = await db.query<Array<{ n: number }>>(
      `SELECT count(*)::int AS n FROM step_runs WHERE run_id = ANY($1::uuid[]) AND step_id = 'work' AND attempt > 1`,
      [ids],
    );
    expect(takenOver.n).toBeGreaterThanOrEqual(10);
    if (process.env.DURABILITY_REPORT)
      console.log(`kill: ${JSON.stringify({ takenOver: takenOver.n, calls: calls.length })}`);
  });

  it('Redis flushed mid-run: every run completes from PostgreSQL, the non-idempotent agent is called once per run', async () => {
    const ids = await startRuns('flush');
    await waitFor(
      async () =>
        (
          await db.query<Array<{ n: number }>>(
            `SELECT count(*)::int AS n FROM step_runs WHERE run_id = ANY($1::uuid[]) AND status <> 'pending'`,
            [ids],
          )
        )[0].n >= 10,
      { what: 'steps under way', timeoutMs: 20_000, intervalMs: 20 },
    );
    const logBefore = worker.output().length;
    await redis.flushall();
    await waitFor(async () => (await statuses(ids)).completed === RUNS, {
      what: `all ${RUNS} runs to complete after the flush`,
      timeoutMs: 60_000,
      intervalMs: 250,
    });
    expect(await statuses(ids)).toEqual({ completed: RUNS });
    // The flush took queued jobs with it: the reconciler queued their steps again from PostgreSQL.
    expect(worker.output().slice(logBefore)).toMatch(
      /Reconciled runs: [1-9]\d* step\(s\) queued again/,
    );
    const calls = await slowCalls('flush');
    expect(calls).toHaveLength(RUNS);
    expect(calls.filter((row) => row.calls !== 1)).toEqual([]);
    if (process.env.DURABILITY_REPORT) {
      const [retried] = await db.query<Array<{ n: number }>>(
        `SELECT count(*)::int AS n FROM step_runs WHERE run_id = ANY($1::uuid[]) AND attempt > 1`,
        [ids],
      );
      console.log(`flush: ${JSON.stringify({ retried: retried.n, calls: calls.length })}`);
    }
  });
});
