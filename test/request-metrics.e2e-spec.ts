import { A2aRoute, type A2aMetricsRequest } from '@app/metrics';
import { startTestApp, testConfig, type TestApp } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Body, Controller, Module, Post, Req } from '@nestjs/common';
import { RegistryModule } from '../apps/registry/src/registry.module.js';

/** Stands in for an A2A binding: one route per operation, or one route that names the operation it served. */
@Controller('probe-a2a')
class ProbeA2aController {
  @Post('message:send')
  @A2aRoute('SendMessage')
  send(@Body() body: unknown): unknown {
    return body;
  }

  /** Not an A2A route: its errors take the platform's problem shape. */
  @Post('plain')
  plain(@Body() body: unknown): unknown {
    return body;
  }

  @Post('jsonrpc')
  @A2aRoute('unknown', 'jsonrpc')
  rpc(@Body() body: { method: string }, @Req() request: A2aMetricsRequest): unknown {
    request.a2aMethod = body.method;
    request.a2aStatus = body.method === 'GetTask' ? 'task_not_found' : 'ok';
    return {};
  }
}

@Module({ controllers: [ProbeA2aController] })
class ProbeA2aModule {}

describe('request metrics and limits', () => {
  let platform: TestApp;
  const key = { 'x-api-key': 'dev-local-key', 'content-type': 'application/json' };

  beforeAll(async () => {
    const config = testConfig('registry', { HTTP_BODY_LIMIT_BYTES: '4096' });
    const root = RegistryModule.register(config);
    platform = await startTestApp(
      { ...root, imports: [...(root.imports ?? []), ProbeA2aModule] },
      config,
    );
  });

  afterAll(async () => {
    await platform.close();
  });

  const metrics = async () => (await fetch(`${platform.url}/metrics`)).text();
  /** The value of the series `name` that carries every label pair in `labels` (`a="x",b="y"`), or 0. */
  const sample = (text: string, name: string, labels: string) => {
    const pairs = labels.split(/,(?=[a-z_]+=)/);
    const line = text
      .split('\n')
      .find(
        (candidate) =>
          candidate.startsWith(`${name}{`) && pairs.every((pair) => candidate.includes(pair)),
      );
    return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
  };

  it('counts A2A operations by method and outcome, including the ones the auth guard refused', async () => {
    const before = await metrics();
    const okBefore = sample(before, 'a2a_messages_total', 'method="SendMessage",status="ok"');
    await fetch(`${platform.url}/probe-a2a/message:send`, {
      method: 'POST',
      headers: key,
      body: '{"a":1}',
    });
    await fetch(`${platform.url}/probe-a2a/message:send`, {
      method: 'POST',
      headers: key,
      body: '{"a":2}',
    });
    await fetch(`${platform.url}/probe-a2a/message:send`, { method: 'POST', body: '{}' });
    await fetch(`${platform.url}/probe-a2a/jsonrpc`, {
      method: 'POST',
      headers: key,
      body: '{"method":"GetTask"}',
    });

    const after = await metrics();
    expect(sample(after, 'a2a_messages_total', 'method="SendMessage",status="ok"')).toBe(
      okBefore + 2,
    );
    expect(
      sample(after, 'a2a_messages_total', 'method="SendMessage",status="unauthorized"'),
    ).toBeGreaterThanOrEqual(1);
    expect(sample(after, 'a2a_messages_total', 'method="GetTask",status="task_not_found"')).toBe(1);
    expect(
      sample(after, 'a2a_response_time_seconds_count', 'method="SendMessage"'),
    ).toBeGreaterThanOrEqual(3);
    expect(
      sample(
        after,
        'http_requests_total',
        'method="POST",route="/probe-a2a/message:send",status_code="201"',
      ),
    ).toBeGreaterThanOrEqual(2);
  });

  it('answers an oversized body with 413 in the problem shape and keeps serving', async () => {
    const response = await fetch(`${platform.url}/probe-a2a/plain`, {
      method: 'POST',
      headers: key,
      body: JSON.stringify({ text: 'x'.repeat(10_000) }),
    });
    expect(response.status).toBe(413);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
    expect(await response.json()).toMatchObject({ status: 413 });
    expect((await fetch(`${platform.url}/health`)).status).toBe(200);
  });

  it('answers malformed JSON with 400 in the problem shape', async () => {
    const response = await fetch(`${platform.url}/probe-a2a/plain`, {
      method: 'POST',
      headers: key,
      body: '{"a":',
    });
    expect(response.status).toBe(400);
    expect(await response.json()).toMatchObject({ status: 400, title: 'Bad Request' });
  });

  it('an A2A route answers the same failures in its binding shape', async () => {
    const tooLarge = await fetch(`${platform.url}/probe-a2a/message:send`, {
      method: 'POST',
      headers: key,
      body: JSON.stringify({ text: 'x'.repeat(10_000) }),
    });
    expect(tooLarge.status).toBe(413);
    expect(await tooLarge.json()).toMatchObject({
      error: { code: 413, status: 'INVALID_ARGUMENT' },
    });

    const rpc = await fetch(`${platform.url}/probe-a2a/jsonrpc`, {
      method: 'POST',
      headers: key,
      body: '{"a":',
    });
    expect(rpc.status).toBe(400);
    expect(await rpc.json()).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
  });
});
