import { freePort, spawnApp, waitFor, type SpawnedApp } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';

/**
 * `npm run test:chaos`: the whole platform on a PostgreSQL and a Redis of the
 * test's own, with waves of concurrent workflow runs while a worker is
 * SIGKILLed, Redis is flushed, Redis restarts, PostgreSQL restarts,
 * PostgreSQL crashes and an agent instance is killed. No run may be lost, no
 * non-idempotent step may reach its agent twice, and `/ready` must show each
 * outage and recover.
 */
const RUNS_PER_WAVE = Number(process.env.CHAOS_RUNS ?? 100);
const TENANT = `chaos-${randomUUID().slice(0, 8)}`;
const KEY = `chaos-key-${randomUUID()}`;

const PG_BIN = join(
  '/usr/lib/postgresql',
  readdirSync('/usr/lib/postgresql').sort().at(-1) ?? '',
  'bin',
);
const asRoot = process.getuid?.() === 0;

/** Runs a PostgreSQL binary, as the postgres user when the test runs as root (initdb refuses root). */
function pgCommand(binary: string, args: string[]): void {
  const command = join(PG_BIN, binary);
  if (asRoot)
    execFileSync('runuser', ['-u', 'postgres', '--', command, ...args], { stdio: 'ignore' });
  else execFileSync(command, args, { stdio: 'ignore' });
}

class PrivatePostgres {
  readonly dir = mkdtempSync(join(tmpdir(), 'a2a-chaos-pg-'));
  port = 0;

  async init(): Promise<void> {
    this.port = await freePort();
    if (asRoot) execFileSync('chown', ['-R', 'postgres:postgres', this.dir]);
    pgCommand('initdb', [
      '-D',
      join(this.dir, 'data'),
      '-A',
      'trust',
      '-U',
      'postgres',
      '--no-sync',
    ]);
    await this.start();
  }

  start(): Promise<void> {
    pgCommand('pg_ctl', [
      '-D',
      join(this.dir, 'data'),
      '-l',
      join(this.dir, 'log'),
      '-o',
      `-p ${this.port} -k ${this.dir} -c listen_addresses=127.0.0.1 -c max_connections=300 -c fsync=off`,
      '-w',
      'start',
    ]);
    return Promise.resolve();
  }

  stop(): void {
    pgCommand('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'fast', '-w', 'stop']);
  }

  /** What a crash does: every process quits at once, WAL not yet written is lost, recovery follows. */
  crash(): void {
    pgCommand('pg_ctl', ['-D', join(this.dir, 'data'), '-m', 'immediate', '-w', 'stop']);
  }

  remove(): void {
    try {
      this.stop();
    } catch {
      // already stopped
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}

class PrivateRedis {
  port = 0;
  private server?: ChildProcess;

  async start(): Promise<void> {
    if (this.port === 0) this.port = await freePort();
    this.server = spawn(
      'redis-server',
      ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'],
      { stdio: 'ignore' },
    );
    const client = new Redis({ port: this.port, host: '127.0.0.1', lazyConnect: true });
    await waitFor(async () => (await client.ping().catch(() => '')) === 'PONG', {
      what: 'the private Redis',
    });
    client.disconnect();
  }

  async stop(): Promise<void> {
    const server = this.server;
    if (server === undefined || server.exitCode !== null) return;
    const exited = new Promise((resolve) => server.once('exit', resolve));
    server.kill('SIGKILL');
    await exited;
  }

  async flush(): Promise<void> {
    const client = new Redis({ port: this.port, host: '127.0.0.1' });
    await client.flushall();
    client.disconnect();
  }
}

describe(`chaos: waves of ${RUNS_PER_WAVE} concurrent workflow runs through outages`, () => {
  const postgres = new PrivatePostgres();
  const redis = new PrivateRedis();
  let db: pg.Pool;
  let env: Record<string, string>;
  let registry: SpawnedApp;
  let agentsA: SpawnedApp;
  let agentsB: SpawnedApp;
  let api: SpawnedApp;
  let worker: SpawnedApp;
  const workflow = `chaos-${randomUUID().slice(0, 8)}`;
  const started: string[] = [];
  const counts: Record<string, number> = {};

  const apps = () =>
    [registry, agentsA, agentsB, api, worker].filter((app) => app.child.exitCode === null);
  const ready = async (app: SpawnedApp) =>
    (await fetch(`${app.url}/ready`).catch(() => undefined))?.status;
  const allReady = (status: number) =>
    waitFor(async () => (await Promise.all(apps().map(ready))).every((value) => value === status), {
      what: `/ready ${status} on every app`,
      timeoutMs: 30_000,
      intervalMs: 200,
    });

  const call = async (method: string, path: string, body?: unknown) => {
    const response = await fetch(`${api.url}${path}`, {
      method,
      headers: { 'x-api-key': KEY, 'content-type': 'application/json' },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };

  const wave = async (phase: string): Promise<string[]> => {
    const ids = await Promise.all(
      Array.from({ length: RUNS_PER_WAVE }, async (_, index) => {
        const run = await call('POST', `/workflows/${workflow}/runs`, {
          input: { tag: `${phase}-${index}` },
        });
        expect(run.status).toBe(202);
        return run.body.id as string;
      }),
    );
    started.push(...ids);
    counts[phase] = ids.length;
    return ids;
  };

  const inFlight = (ids: string[], minimum: number) =>
    waitFor(
      async () =>
        (
          await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM step_runs WHERE run_id = ANY($1::uuid[]) AND status = 'running'`,
            [ids],
          )
        ).rows[0].n >= minimum,
      { what: 'steps in flight', timeoutMs: 30_000, intervalMs: 20 },
    );

  beforeAll(async () => {
    await Promise.all([postgres.init(), redis.start()]);
    db = new pg.Pool({
      host: '127.0.0.1',
      port: postgres.port,
      user: 'postgres',
      database: 'postgres',
      max: 2,
    });
    // Its idle connections die with each PostgreSQL restart: expected here.
    db.on('error', () => undefined);
    env = {
      BOOTSTRAP_TENANT: TENANT,
      BOOTSTRAP_API_KEY: KEY,
      DATABASE_HOST: '127.0.0.1',
      DATABASE_PORT: String(postgres.port),
      DATABASE_USER: 'postgres',
      DATABASE_NAME: 'postgres',
      DATABASE_MIGRATIONS_RUN: 'true',
      REDIS_PORT: String(redis.port),
      REDIS_KEY_PREFIX: 'chaos',
      THROTTLE_MESSAGE_LIMIT: '100000',
      THROTTLE_DEFAULT_LIMIT: '1000000',
      REGISTRY_HEARTBEAT_INTERVAL_SECONDS: '2',
      REGISTRY_HEARTBEAT_TTL_SECONDS: '6',
      REGISTRY_PROBE_INTERVAL_SECONDS: '2',
      REGISTRY_CACHE_TTL_SECONDS: '1',
    };
    registry = await spawnApp('registry', env);
    const withRegistry = { ...env, REGISTRY_URL: registry.url };
    [agentsA, agentsB, api, worker] = await Promise.all([
      spawnApp('agent', { ...withRegistry, AGENTS: 'slow,echo' }),
      spawnApp('agent', { ...withRegistry, AGENTS: 'echo' }),
      spawnApp('orchestrator', { ...withRegistry, WORKER_MODE: 'http' }),
      spawnApp('orchestrator', { ...withRegistry, WORKER_MODE: 'worker' }),
    ]);
    await waitFor(
      async () =>
        (
          await fetch(`${registry.url}/agents?skill=echo`, { headers: { 'x-api-key': KEY } }).then(
            (response) => response.json() as Promise<{ agents?: Array<{ instances?: unknown[] }> }>,
          )
        ).agents?.[0]?.instances?.length === 2,
      { what: 'both echo instances to register', timeoutMs: 30_000 },
    );
    const saved = await call('PUT', `/workflows/${workflow}`, {
      steps: [
        {
          id: 'work',
          skill: 'long-running',
          idempotent: false,
          input: { steps: 2, intervalMs: 300, tag: '${input.tag}' },
          retry: { attempts: 10, backoffMs: 500 },
          timeoutMs: 30_000,
        },
        {
          id: 'report',
          skill: 'echo',
          dependsOn: ['work'],
          input: 'report ${input.tag}',
          retry: { attempts: 10, backoffMs: 500 },
        },
      ],
    });
    expect(saved.status).toBe(200);
  });

  afterAll(async () => {
    await Promise.all(apps().map((app) => app.stop('SIGKILL')));
    await db?.end();
    await redis.stop();
    postgres.remove();
  });

  it('a worker is SIGKILLed and restarted', async () => {
    const ids = await wave('kill-worker');
    await inFlight(ids, 10);
    await worker.stop('SIGKILL');
    worker = await spawnApp('orchestrator', {
      ...env,
      REGISTRY_URL: registry.url,
      WORKER_MODE: 'worker',
    });
  });

  it('Redis is flushed', async () => {
    const ids = await wave('flush-redis');
    await inFlight(ids, 10);
    await redis.flush();
  });

  it('Redis restarts: /ready turns 503 everywhere, then 200', async () => {
    const ids = await wave('restart-redis');
    await inFlight(ids, 10);
    await redis.stop();
    await allReady(503);
    await redis.start();
    await allReady(200);
  });

  it('PostgreSQL restarts: /ready turns 503 everywhere, then 200', async () => {
    const ids = await wave('restart-postgres');
    await inFlight(ids, 10);
    postgres.stop();
    await allReady(503);
    await postgres.start();
    await allReady(200);
  });

  it('PostgreSQL crashes: commits not yet written are lost, and the reconciler makes up for them', async () => {
    const ids = await wave('crash-postgres');
    await inFlight(ids, 10);
    postgres.crash();
    await allReady(503);
    await postgres.start();
    await allReady(200);
  });

  it('an agent instance is killed: the other instance of its skill serves', async () => {
    const ids = await wave('kill-agent');
    await waitFor(
      async () =>
        (
          await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM step_runs WHERE run_id = ANY($1::uuid[]) AND step_id = 'report' AND status = 'completed'`,
            [ids],
          )
        ).rows[0].n >= 5,
      { what: 'reports under way', timeoutMs: 60_000, intervalMs: 50 },
    );
    await agentsB.stop('SIGKILL');
  });

  it('every run completes, none is lost, no non-idempotent step reached its agent twice', async () => {
    await waitFor(
      async () =>
        (
          await db.query<{ n: number }>(
            `SELECT count(*)::int AS n FROM workflow_runs WHERE id = ANY($1::uuid[]) AND status IN ('completed', 'failed', 'canceled')`,
            [started],
          )
        ).rows[0].n === started.length,
      { what: `all ${started.length} runs to finish`, timeoutMs: 240_000, intervalMs: 500 },
    );
    const byStatus = Object.fromEntries(
      (
        await db.query<{ status: string; n: number }>(
          `SELECT status, count(*)::int AS n FROM workflow_runs WHERE id = ANY($1::uuid[]) GROUP BY status`,
          [started],
        )
      ).rows.map((row) => [row.status, row.n]),
    );
    const calls = (
      await db.query<{ tag: string; calls: number }>(
        `SELECT tag, count(*)::int AS calls FROM (
           SELECT jsonb_path_query_first(task, '$.history[*].parts[*].data.tag') #>> '{}' AS tag
           FROM a2a_tasks WHERE tenant_id = $1 AND agent = 'slow') t
         GROUP BY tag`,
        [TENANT],
      )
    ).rows;
    const duplicates = calls.filter((row) => row.calls > 1);
    const lost =
      started.length -
      (byStatus.completed ?? 0) -
      (byStatus.failed ?? 0) -
      (byStatus.canceled ?? 0);
    process.stdout.write(
      `chaos: ${JSON.stringify({ waves: counts, started: started.length, ...byStatus, lost, nonIdempotentCalls: calls.length, duplicates: duplicates.length })}\n`,
    );
    expect(byStatus).toEqual({ completed: started.length });
    expect(lost).toBe(0);
    expect(calls).toHaveLength(started.length);
    expect(duplicates).toEqual([]);
  });
});
