import { freePort, spawnApp, waitFor, type SpawnedApp } from '@app/testing';
import { afterEach, describe, expect, it } from '@jest/globals';

/** These tests run the built apps as processes, exactly as `npm run start:<app>` does. */
describe('app process lifecycle', () => {
  const running: SpawnedApp[] = [];
  const start = async (...args: Parameters<typeof spawnApp>) => {
    const app = await spawnApp(...args);
    running.push(app);
    return app;
  };

  afterEach(async () => {
    await Promise.all(running.splice(0).map((app) => app.stop('SIGKILL')));
  });

  it('exits non-zero naming the bad variable', async () => {
    const app = await start(
      'agent',
      { PORT: 'eighty', DATABASE_SSL: 'perhaps' },
      { waitUntil: 'nothing' },
    );
    const { code } = await app.exited;
    expect(code).toBe(78);
    expect(app.output()).toContain('Invalid environment variables');
    expect(app.output()).toMatch(/PORT: .*"eighty"/);
    expect(app.output()).toMatch(/DATABASE_SSL: /);
  });

  it('refuses to start in production without BOOTSTRAP_API_KEY', async () => {
    const app = await start('registry', { NODE_ENV: 'production' }, { waitUntil: 'nothing' });
    expect((await app.exited).code).toBe(78);
    expect(app.output()).toContain('BOOTSTRAP_API_KEY');
  });

  it.each(['agent', 'orchestrator', 'registry'] as const)(
    '%s boots and answers /health, /ready and /metrics',
    async (name) => {
      const app = await start(name);
      const health = (await (await fetch(`${app.url}/health`)).json()) as Record<string, unknown>;
      expect(health).toMatchObject({
        status: 'ok',
        app: name,
        dependencies: { database: 'up', redis: 'up' },
      });
      expect((await fetch(`${app.url}/ready`)).status).toBe(200);
      const metrics = await (await fetch(`${app.url}/metrics`)).text();
      expect(metrics).toContain(`nodejs_heap_size_used_bytes{app="${name}"`);
      expect(metrics).toContain('# TYPE a2a_messages_total counter');
    },
  );

  it('serves 503 on /ready while PostgreSQL is unreachable, and keeps running', async () => {
    const closedPort = await freePort();
    const app = await start(
      'agent',
      { DATABASE_PORT: String(closedPort) },
      { waitUntil: 'listening' },
    );
    const ready = await fetch(`${app.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({
      status: 'error',
      error: { database: { status: 'down' } },
    });
    const health = await fetch(`${app.url}/health`);
    expect(health.status).toBe(200);
    expect(await health.json()).toMatchObject({
      status: 'degraded',
      dependencies: { database: 'down', redis: 'up' },
    });
    const unauthenticated = await fetch(`${app.url}/auth/whoami`, {
      headers: { 'x-api-key': 'dev-local-key' },
    });
    expect(unauthenticated.status).toBe(503);
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(app.child.exitCode).toBeNull();
    expect((await fetch(`${app.url}/ready`)).status).toBe(503);
  });

  it('serves 503 on /ready while Redis is unreachable, and keeps running', async () => {
    const closedPort = await freePort();
    const app = await start(
      'orchestrator',
      { REDIS_PORT: String(closedPort) },
      { waitUntil: 'listening' },
    );
    const ready = await fetch(`${app.url}/ready`);
    expect(ready.status).toBe(503);
    expect(await ready.json()).toMatchObject({ error: { redis: { status: 'down' } } });
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    expect(app.child.exitCode).toBeNull();
    expect(await (await fetch(`${app.url}/health`)).json()).toMatchObject({
      dependencies: { redis: 'down' },
    });
  });

  it('on SIGTERM turns /ready to 503 while it drains, then exits 0', async () => {
    const app = await start('registry', { SHUTDOWN_DELAY_MS: '3000' });
    expect((await fetch(`${app.url}/ready`)).status).toBe(200);
    app.child.kill('SIGTERM');
    await waitFor(async () => (await fetch(`${app.url}/ready`)).status === 503, {
      what: '/ready to turn 503',
    });
    expect((await fetch(`${app.url}/health`)).status).toBe(200);
    const { code } = await app.exited;
    expect(code).toBe(0);
    expect(app.output()).toContain('Drained');
  });

  it('logs JSON lines with the tenant, never the key, and nothing for probes', async () => {
    const app = await start('agent');
    await fetch(`${app.url}/health`);
    await fetch(`${app.url}/metrics`);
    const response = await fetch(`${app.url}/auth/whoami`, {
      headers: { authorization: 'Bearer dev-local-key', 'x-request-id': 'trace-me-123' },
    });
    expect(response.status).toBe(200);
    await waitFor(() => app.output().includes('trace-me-123'), { what: 'the request log line' });
    const lines = app
      .output()
      .split('\n')
      .filter((line) => line.startsWith('{'))
      .map((line) => JSON.parse(line) as Record<string, unknown>);
    const requestLine = lines.find(
      (line) => (line.req as { id?: string } | undefined)?.id === 'trace-me-123',
    );
    expect(requestLine).toMatchObject({
      app: 'agent',
      tenantId: 'default',
      res: { statusCode: 200 },
    });
    expect(typeof requestLine?.instance).toBe('string');
    const requestLog = app
      .output()
      .split('\n')
      .filter((line) => line.includes('"req"'))
      .join('\n');
    expect(requestLog).not.toContain('Bearer dev-local-key');
    expect(requestLog).not.toMatch(/"url":"\/(health|metrics)"/);
  });
});
