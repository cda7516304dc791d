import { openTestDataSource, spawnApp, type SpawnedApp, memberKey } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

const BODY_LIMIT = 32 * 1024;
const MESSAGE_LIMIT = 20;

/**
 * Abuse: oversized bodies get 413 in each app's error shape, and per-tenant
 * message budgets hold exactly under concurrent load without touching other
 * tenants. (Private, loopback, link-local and metadata targets, with
 * redirects, are covered by push.e2e, registry.e2e and outbound-request.spec.)
 */
describe('abuse: body limits and rate limits under load', () => {
  let agents: SpawnedApp;
  let registry: SpawnedApp;
  let orchestrator: SpawnedApp;
  let dataSource: DataSource;

  const key = (tenant: string) => memberKey(dataSource, tenant);

  beforeAll(async () => {
    const prefix = `${process.env.REDIS_KEY_PREFIX}-abuse`;
    const limits = {
      HTTP_BODY_LIMIT_BYTES: String(BODY_LIMIT),
      THROTTLE_MESSAGE_LIMIT: String(MESSAGE_LIMIT),
      THROTTLE_DEFAULT_LIMIT: '100000',
    };
    dataSource = await openTestDataSource();
    [agents, registry, orchestrator] = await Promise.all([
      spawnApp('agent', { ...limits, AGENTS: 'echo', REDIS_KEY_PREFIX: `${prefix}-agents` }),
      spawnApp('registry', { ...limits, REDIS_KEY_PREFIX: `${prefix}-registry` }),
      spawnApp('orchestrator', { ...limits, REDIS_KEY_PREFIX: `${prefix}-orchestrator` }),
    ]);
  });

  afterAll(async () => {
    await Promise.all([agents?.stop(), registry?.stop(), orchestrator?.stop()]);
    await dataSource?.destroy();
  });

  it('a body over the limit gets 413, as a JSON-RPC error or a problem document', async () => {
    const apiKey = await key(`abuse-${randomUUID().slice(0, 8)}`);
    const huge = JSON.stringify({ padding: 'x'.repeat(BODY_LIMIT + 1) });
    const post = (url: string) =>
      fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'a2a-version': '1.0' },
        body: huge,
      });

    const rpc = await post(`${agents.url}/agents/echo/a2a/jsonrpc`);
    expect(rpc.status).toBe(413);
    expect(await rpc.json()).toMatchObject({ jsonrpc: '2.0', error: { code: expect.any(Number) } });

    for (const url of [`${registry.url}/agents`, `${orchestrator.url}/workflows/big/runs`]) {
      const response = await post(url);
      expect(response.status).toBe(413);
      expect(await response.json()).toMatchObject({ status: 413, title: 'Payload Too Large' });
    }
  });

  it(`a tenant's message budget holds exactly under ${MESSAGE_LIMIT * 4} concurrent sends, and another tenant keeps its own`, async () => {
    const [noisy, quiet] = await Promise.all([
      key(`abuse-noisy-${randomUUID().slice(0, 8)}`),
      key(`abuse-quiet-${randomUUID().slice(0, 8)}`),
    ]);
    const send = (apiKey: string, index: number) =>
      fetch(`${agents.url}/agents/echo/a2a/jsonrpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-api-key': apiKey, 'a2a-version': '1.0' },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: index,
          method: 'SendMessage',
          params: {
            message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text: `n${index}` }] },
          },
        }),
      }).then(async (response) => ({
        status: response.status,
        body: (await response.json()) as { result?: unknown; error?: { code: number } },
      }));

    const [flood, calm] = await Promise.all([
      Promise.all(Array.from({ length: MESSAGE_LIMIT * 4 }, (_, index) => send(noisy, index))),
      Promise.all(Array.from({ length: MESSAGE_LIMIT / 2 }, (_, index) => send(quiet, index))),
    ]);
    const served = flood.filter((answer) => answer.status === 200 && answer.body.result);
    const refused = flood.filter((answer) => answer.status === 429);
    expect(served).toHaveLength(MESSAGE_LIMIT);
    expect(refused).toHaveLength(MESSAGE_LIMIT * 3);
    for (const answer of refused) expect(answer.body.error?.code).toEqual(expect.any(Number));
    expect(calm.every((answer) => answer.status === 200 && answer.body.result)).toBe(true);
  });
});
