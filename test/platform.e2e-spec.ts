import { ApiKeyRole } from '@app/persistence';
import { ApiKeyService } from '@app/security';
import { startTestApp, testConfig, type TestApp } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { AgentModule } from '../apps/agent/src/agent.module.js';

describe('an app of the platform (agent, booted in process)', () => {
  let platform: TestApp;

  beforeAll(async () => {
    const config = testConfig('agent', { INSTANCE_ID: 'agent-e2e-1' });
    platform = await startTestApp(AgentModule.register(config), config);
  });

  afterAll(async () => {
    await platform.close();
  });

  it('GET /health reports the app, its build and its dependencies', async () => {
    const response = await fetch(`${platform.url}/health`);
    expect(response.status).toBe(200);
    const body = (await response.json()) as Record<string, unknown>;
    expect(body).toMatchObject({
      status: 'ok',
      app: 'agent',
      instanceId: 'agent-e2e-1',
      version: expect.stringMatching(/^\d+\.\d+\.\d+/),
      dependencies: { database: 'up', redis: 'up' },
    });
    expect(typeof body.uptimeSeconds).toBe('number');
  });

  it('GET /ready answers 200 once PostgreSQL and Redis answer', async () => {
    const response = await fetch(`${platform.url}/ready`);
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({
      status: 'ok',
      details: { database: { status: 'up' }, redis: { status: 'up' } },
    });
  });

  it('GET /metrics serves Node defaults and the platform metrics, labelled by app and instance', async () => {
    await fetch(`${platform.url}/auth/whoami`);
    const response = await fetch(`${platform.url}/metrics`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toContain('text/plain');
    const text = await response.text();
    expect(text).toContain('process_cpu_user_seconds_total{app="agent",instance="agent-e2e-1"}');
    for (const name of [
      'a2a_messages_total',
      'a2a_response_time_seconds',
      'a2a_active_tasks',
      'a2a_agent_health',
    ]) {
      expect(text).toContain(`# TYPE ${name} `);
    }
    expect(text).toMatch(
      /http_requests_total\{method="GET",route="\/auth\/whoami",status_code="401",app="agent",instance="agent-e2e-1"\} [1-9]/,
    );
  });

  it('a request without a key gets 401 with a problem body and a challenge', async () => {
    const response = await fetch(`${platform.url}/auth/whoami`);
    expect(response.status).toBe(401);
    expect(response.headers.get('www-authenticate')).toMatch(/^Bearer /);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({
      status: 401,
      title: 'Unauthorized',
      detail: expect.stringContaining('API key'),
    });
  });

  it('a wrong key gets 401 too', async () => {
    const response = await fetch(`${platform.url}/auth/whoami`, {
      headers: { authorization: 'Bearer not-a-key' },
    });
    expect(response.status).toBe(401);
    expect(await response.json()).toMatchObject({
      status: 401,
      detail: 'Invalid or revoked API key',
    });
  });

  it('the bootstrap key reaches the handler as tenant "default", by either header', async () => {
    const headerSets: Array<Record<string, string>> = [
      { authorization: 'Bearer dev-local-key' },
      { 'x-api-key': 'dev-local-key' },
    ];
    for (const headers of headerSets) {
      const response = await fetch(`${platform.url}/auth/whoami`, { headers });
      expect(response.status).toBe(200);
      expect(await response.json()).toMatchObject({ tenantId: 'default', role: 'admin' });
    }
  });

  it("another tenant's key reaches the handler with that tenant", async () => {
    const tenantId = `tenant-${randomUUID().slice(0, 8)}`;
    const { key } = await platform.app
      .get(ApiKeyService)
      .createKey({ tenantId, name: 'e2e', role: ApiKeyRole.Member });
    expect(key).toMatch(/^a2a_[A-Za-z0-9_-]{43}$/);
    const response = await fetch(`${platform.url}/auth/whoami`, {
      headers: { authorization: `Bearer ${key}` },
    });
    expect(response.status).toBe(200);
    expect(await response.json()).toMatchObject({ tenantId, role: 'member' });
  });

  it('an unknown route and an unparsable body get problem answers, not stack traces', async () => {
    const notFound = await fetch(`${platform.url}/nope`, {
      headers: { 'x-api-key': 'dev-local-key' },
    });
    expect(notFound.status).toBe(404);
    expect(notFound.headers.get('content-type')).toContain('application/problem+json');

    const badJson = await fetch(`${platform.url}/auth/whoami`, {
      method: 'POST',
      headers: { 'x-api-key': 'dev-local-key', 'content-type': 'application/json' },
      body: '{"unterminated',
    });
    expect([400, 404]).toContain(badJson.status);
    const body = (await badJson.json()) as Record<string, unknown>;
    expect(body).toHaveProperty('title');
    expect(JSON.stringify(body)).not.toMatch(/at .+\.(js|ts):\d+/);
  });
});
