import { ApiKeyRole } from '@app/persistence';
import { ApiKeyService } from '@app/security';
import {
  spawnApp,
  startTestApp,
  testConfig,
  waitFor,
  type SpawnedApp,
  type TestApp,
  useIsolatedDatabase,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { setupRegistryOpenApi } from '../src/openapi.js';
import { RegistryModule } from '../src/registry.module.js';

/** Cards served by a test HTTP server, changeable while the test runs. */
class CardServer {
  private readonly cards = new Map<string, { body: string; delayMs: number; status: number }>();
  private server?: Server;
  base = '';

  async start(): Promise<void> {
    this.server = createServer((request, response) => {
      const entry = this.cards.get(request.url ?? '');
      if (entry === undefined) {
        response.writeHead(404).end('not found');
        return;
      }
      const etag = `"${Buffer.from(entry.body).toString('base64url').slice(-16)}"`;
      setTimeout(() => {
        if (request.headers['if-none-match'] === etag) response.writeHead(304, { etag }).end();
        else
          response
            .writeHead(entry.status, { 'content-type': 'application/json', etag })
            .end(entry.body);
      }, entry.delayMs);
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.base = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  serve(path: string, card: unknown, options: { delayMs?: number; status?: number } = {}): string {
    this.cards.set(path, {
      body: typeof card === 'string' ? card : JSON.stringify(card),
      delayMs: options.delayMs ?? 0,
      status: options.status ?? 200,
    });
    return `${this.base}${path}`;
  }

  stopServing(path: string): void {
    this.cards.delete(path);
  }

  async stop(): Promise<void> {
    this.server?.closeAllConnections();
    await new Promise<void>((resolve) => this.server?.close(() => resolve()));
  }
}

function card(
  name: string,
  skills: Array<{ id: string; tags?: string[]; description?: string }>,
  extra: Record<string, unknown> = {},
) {
  return {
    name,
    description: `${name}, a test agent`,
    version: '1.0.0',
    supportedInterfaces: [
      {
        url: `http://agents.example.com/${encodeURIComponent(name)}/a2a/jsonrpc`,
        protocolBinding: 'JSONRPC',
        protocolVersion: '1.0',
      },
    ],
    capabilities: { streaming: true },
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: skills.map((skill) => ({
      name: skill.id,
      description: skill.description ?? `does ${skill.id}`,
      tags: skill.tags ?? [],
      ...skill,
    })),
    ...extra,
  };
}

interface Registration {
  id: string;
  agentName: string;
  status: string;
  tenantId: string;
  shared: boolean;
  lastHeartbeatAt: string;
  latencyMs: number | null;
  card: { skills: Array<{ id: string }> };
}
interface Discovery {
  agents: Array<{
    name: string;
    shared: boolean;
    instances: Array<{ id: string; status: string; url: string; latencyMs: number | null }>;
  }>;
  total: number;
}

// Its apps act on every row they see (sweeps, probes, reconcilers): a database of its own.
useIsolatedDatabase('registry');

describe('registry', () => {
  let registry: TestApp;
  let cards: CardServer;
  let dataSource: DataSource;
  let memberKey: string;
  let otherTenantKey: string;
  const ADMIN = 'dev-local-key';

  const api = async <T>(method: string, path: string, body?: unknown, key: string = ADMIN) => {
    const response = await fetch(`${registry.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
    });
    const text = await response.text();
    return { status: response.status, body: (text ? JSON.parse(text) : undefined) as T };
  };
  const register = (cardUrl: string, key = ADMIN, extra: Record<string, unknown> = {}) =>
    api<Registration & { detail?: string }>('POST', '/agents', { cardUrl, ...extra }, key);
  const discover = (query: string, key = ADMIN) =>
    api<Discovery>('GET', `/agents?${query}`, undefined, key);
  const skillId = () => `skill-${randomUUID().slice(0, 8)}`;

  beforeAll(async () => {
    cards = new CardServer();
    await cards.start();
    const config = testConfig('registry', {
      REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-registry`,
      REGISTRY_HEARTBEAT_TTL_SECONDS: '2',
      REGISTRY_REMOVE_AFTER_SECONDS: '10',
      REGISTRY_PROBE_INTERVAL_SECONDS: '1',
      REGISTRY_CACHE_TTL_SECONDS: '1',
      REGISTRY_MAX_CARD_BYTES: '8192',
      REGISTRY_ALLOW_PRIVATE_URLS: 'true',
    });
    registry = await startTestApp(RegistryModule.register(config), config, {
      configure: (app) => setupRegistryOpenApi(app, config.app.version),
    });
    dataSource = registry.app.get(DataSource);
    const keys = registry.app.get(ApiKeyService);
    memberKey = (
      await keys.createKey({ tenantId: 'default', name: 'member', role: ApiKeyRole.Member })
    ).key;
    otherTenantKey = (
      await keys.createKey({
        tenantId: `other-${randomUUID().slice(0, 8)}`,
        name: 'other',
        role: ApiKeyRole.Member,
      })
    ).key;
  });

  afterAll(async () => {
    await registry.close();
    await cards.stop();
  });

  it('registers an agent by its card URL and finds it by skill, tag and text', async () => {
    const skill = skillId();
    const url = cards.serve(
      `/${skill}/card.json`,
      card(`Translator ${skill}`, [
        {
          id: skill,
          tags: ['Translation', 'french'],
          description: 'translates documents into French',
        },
      ]),
    );
    const created = await register(url);
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({
      agentName: `Translator ${skill}`,
      status: 'healthy',
      tenantId: 'default',
      shared: false,
    });

    const bySkill = await discover(`skill=${skill}`);
    expect(bySkill.body.agents.map((agent) => agent.name)).toEqual([`Translator ${skill}`]);
    expect((await discover(`tag=translation&skill=${skill}`)).body.total).toBe(1);
    expect(
      (await discover(`q=${encodeURIComponent('translates documents')}&skill=${skill}`)).body.total,
    ).toBe(1);
    expect((await discover(`q=spreadsheets&skill=${skill}`)).body.total).toBe(0);
    expect((await api('GET', `/agents/${created.body.id}`)).body).toMatchObject({
      id: created.body.id,
      cardUrl: url,
    });

    const again = await register(url);
    expect(again.status).toBe(200);
    expect(again.body.id).toBe(created.body.id);
  });

  it('several instances of one agent are one agent with several endpoints, fastest first', async () => {
    const skill = skillId();
    const body = card(`Worker ${skill}`, [{ id: skill }]);
    const slow = await register(cards.serve(`/${skill}/slow.json`, body, { delayMs: 150 }));
    const fast = await register(cards.serve(`/${skill}/fast.json`, body));
    await waitFor(
      async () => {
        const found = await discover(`skill=${skill}`);
        return (
          found.body.agents[0]?.instances.every((instance) => instance.latencyMs !== null) ?? false
        );
      },
      { what: 'both instances to be probed', timeoutMs: 10_000 },
    );
    const found = await discover(`skill=${skill}`);
    expect(found.body.agents).toHaveLength(1);
    expect(found.body.agents[0].instances.map((instance) => instance.id)).toEqual([
      fast.body.id,
      slow.body.id,
    ]);
    expect((await api<{ id: string }>('GET', `/agents/resolve?skill=${skill}`)).body.id).toBe(
      fast.body.id,
    );
  });

  it('an instance that stops heartbeating leaves discovery after the TTL; a heartbeat brings it back', async () => {
    const skill = skillId();
    const registration = await register(
      cards.serve(`/${skill}/card.json`, card(`Quiet ${skill}`, [{ id: skill }])),
    );
    expect((await discover(`skill=${skill}`)).body.total).toBe(1);
    await waitFor(async () => (await discover(`skill=${skill}`)).body.total === 0, {
      what: 'expiry',
      timeoutMs: 10_000,
    });
    const all = await discover(`skill=${skill}&healthy=false`);
    expect(all.body.agents[0].instances[0].status).toBe('unhealthy');
    const beat = await api<Registration>('PUT', `/agents/${registration.body.id}/heartbeat`);
    expect(beat.body.status).toBe('healthy');
    expect((await discover(`skill=${skill}`)).body.total).toBe(1);
  });

  it('an instance silent for longer than the removal time is removed, with its health gauge', async () => {
    const skill = skillId();
    const registration = await register(
      cards.serve(`/${skill}/card.json`, card(`Silent ${skill}`, [{ id: skill }])),
    );
    const id = registration.body.id;
    const gauge = new RegExp(`a2a_agent_health\\{agent_id="${id}"`);
    expect(await (await fetch(`${registry.url}/metrics`)).text()).toMatch(gauge);
    const registeredAt = Date.now();
    // Unhealthy after the TTL (2 s), removed after REGISTRY_REMOVE_AFTER_SECONDS (10 s) by the sweep.
    await waitFor(async () => (await api('GET', `/agents/${id}`)).status === 404, {
      what: 'the silent instance to be removed',
      timeoutMs: 20_000,
      intervalMs: 250,
    });
    expect(Date.now() - registeredAt).toBeGreaterThanOrEqual(9_000);
    expect((await discover(`skill=${skill}&healthy=false`)).body.total).toBe(0);
    const metrics = await (await fetch(`${registry.url}/metrics`)).text();
    expect(metrics).not.toMatch(gauge);
    expect(metrics).toMatch(/a2a_registry_events_total\{event="removal"[^}]*\} [1-9]/);
  });

  it('a card that stops answering drops out until it answers again', async () => {
    const skill = skillId();
    const path = `/${skill}/card.json`;
    const body = card(`Flaky ${skill}`, [{ id: skill }]);
    const registration = await register(cards.serve(path, body));
    const heartbeat = setInterval(
      () => void api('PUT', `/agents/${registration.body.id}/heartbeat`),
      500,
    );
    try {
      cards.stopServing(path);
      await waitFor(async () => (await discover(`skill=${skill}`)).body.total === 0, {
        what: 'the failed probe',
        timeoutMs: 10_000,
      });
      cards.serve(path, body);
      await waitFor(async () => (await discover(`skill=${skill}`)).body.total === 1, {
        what: 'the recovery',
        timeoutMs: 10_000,
      });
    } finally {
      clearInterval(heartbeat);
    }
  });

  it('re-indexes an instance whose card changed (ETag)', async () => {
    const skill = skillId();
    const added = skillId();
    const path = `/${skill}/card.json`;
    const registration = await register(
      cards.serve(path, card(`Growing ${skill}`, [{ id: skill }])),
    );
    const heartbeat = setInterval(
      () => void api('PUT', `/agents/${registration.body.id}/heartbeat`),
      500,
    );
    try {
      cards.serve(path, card(`Growing ${skill}`, [{ id: skill }, { id: added }]));
      await waitFor(async () => (await discover(`skill=${added}`)).body.total === 1, {
        what: 'the new skill',
        timeoutMs: 10_000,
      });
      const stored = await api<Registration>('GET', `/agents/${registration.body.id}`);
      expect(stored.body.card.skills.map((entry) => entry.id)).toEqual([skill, added]);
    } finally {
      clearInterval(heartbeat);
    }
  });

  it('deregistration removes an instance at once', async () => {
    const skill = skillId();
    const registration = await register(
      cards.serve(`/${skill}/card.json`, card(`Leaving ${skill}`, [{ id: skill }])),
    );
    expect((await api('DELETE', `/agents/${registration.body.id}`)).status).toBe(204);
    expect((await api('GET', `/agents/${registration.body.id}`)).status).toBe(404);
    expect((await discover(`skill=${skill}&healthy=false`)).body.total).toBe(0);
    expect((await api('DELETE', `/agents/${registration.body.id}`)).status).toBe(404);
  });

  it('converts a v0.3 card and keeps it in v1.0 form', async () => {
    const skill = skillId();
    const legacy = {
      name: `Legacy ${skill}`,
      description: 'an agent with a v0.3 card',
      url: 'http://legacy.example.com/a2a',
      version: '0.9.0',
      protocolVersion: '0.3.0',
      preferredTransport: 'JSONRPC',
      capabilities: {},
      defaultInputModes: ['text/plain'],
      defaultOutputModes: ['text/plain'],
      skills: [{ id: skill, name: 'Old skill', description: 'old', tags: ['legacy'] }],
    };
    const registration = await register(cards.serve(`/${skill}/card.json`, legacy));
    expect(registration.status).toBe(201);
    const stored = await api<{
      card: { supportedInterfaces: Array<{ url: string; protocolBinding: string }> };
    }>('GET', `/agents/${registration.body.id}`);
    expect(stored.body.card.supportedInterfaces[0]).toMatchObject({
      url: 'http://legacy.example.com/a2a',
      protocolBinding: 'JSONRPC',
    });
  });

  describe('bad input gets a clear 4xx and stores nothing', () => {
    /** Registrations of the URLs a test tried (other test files register in the same database at the same time). */
    const stored = async (urls: string[]) =>
      Number(
        (
          await dataSource.query<Array<{ n: string }>>(
            'SELECT count(*) AS n FROM agent_registrations WHERE card_url = ANY($1::text[])',
            [urls],
          )
        )[0].n,
      );

    it.each([
      ['a card URL that 404s', () => `${cards.base}/missing.json`, /404/],
      [
        'a card that is not a card',
        () => cards.serve('/not-a-card.json', { hello: 'world' }),
        /not a valid agent card|Not an agent card/i,
      ],
      ['a body that is not JSON', () => cards.serve('/not-json.json', '<html></html>'), /JSON/],
      [
        'an oversized card',
        () =>
          cards.serve(
            '/huge.json',
            card('Huge', [{ id: 'huge', description: 'x'.repeat(20_000) }]),
          ),
        /larger than/,
      ],
      ['a card URL that is not http', () => 'ftp://example.com/card.json', /URL/],
    ])('%s', async (_, url, detail) => {
      const cardUrl = url();
      const response = await register(cardUrl);
      expect(response.status).toBeGreaterThanOrEqual(400);
      expect(response.status).toBeLessThan(500);
      expect(JSON.stringify(response.body)).toMatch(detail);
      expect(await stored([cardUrl])).toBe(0);
    });

    it('card URLs at loopback, private, link-local or metadata addresses are refused unless allowed (redirects: libs/security outbound-request.spec)', async () => {
      const strict = await spawnApp('registry', {
        REGISTRY_ALLOW_PRIVATE_URLS: 'false',
        REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-registry-strict`,
      });
      try {
        const refused = [
          cards.serve('/private.json', card('Private', [{ id: 'p' }])),
          'http://10.0.0.1/.well-known/agent-card.json',
          'http://169.254.169.254/latest/meta-data/',
          'http://[::1]/.well-known/agent-card.json',
          'http://localhost/.well-known/agent-card.json',
        ];
        for (const url of refused) {
          const response = await fetch(`${strict.url}/agents`, {
            method: 'POST',
            headers: { authorization: `Bearer ${ADMIN}`, 'content-type': 'application/json' },
            body: JSON.stringify({ cardUrl: url }),
          });
          expect(response.status).toBe(422);
          expect(((await response.json()) as { detail: string }).detail).toMatch(
            /private|loopback/,
          );
        }
        expect(await stored(refused)).toBe(0);
      } finally {
        await strict.stop();
      }
    });

    it('an id that is not one answers 400, an unknown one 404', async () => {
      expect((await api('GET', '/agents/not-an-id')).status).toBe(400);
      expect((await api('GET', `/agents/${randomUUID()}`)).status).toBe(404);
      expect((await api('PUT', `/agents/${randomUUID()}/heartbeat`)).status).toBe(404);
    });
  });

  describe('tenancy', () => {
    it("a tenant never sees, heartbeats or removes another tenant's private agents", async () => {
      const skill = skillId();
      const registration = await register(
        cards.serve(`/${skill}/card.json`, card(`Private ${skill}`, [{ id: skill }])),
      );
      expect((await discover(`skill=${skill}`, otherTenantKey)).body.total).toBe(0);
      expect(
        (await api('GET', `/agents/${registration.body.id}`, undefined, otherTenantKey)).status,
      ).toBe(404);
      expect(
        (await api('PUT', `/agents/${registration.body.id}/heartbeat`, undefined, otherTenantKey))
          .status,
      ).toBe(404);
      expect(
        (await api('DELETE', `/agents/${registration.body.id}`, undefined, otherTenantKey)).status,
      ).toBe(404);
      expect(
        (await api('GET', `/agents/resolve?skill=${skill}`, undefined, otherTenantKey)).status,
      ).toBe(404);
      expect((await discover(`skill=${skill}`)).body.total).toBe(1);
    });

    it('an admin publishes a shared agent that every tenant discovers; a member key may not', async () => {
      const skill = skillId();
      const url = cards.serve(`/${skill}/card.json`, card(`Shared ${skill}`, [{ id: skill }]));
      expect((await register(url, memberKey, { shared: true })).status).toBe(403);
      const shared = await register(url, ADMIN, { shared: true });
      expect(shared.body.shared).toBe(true);
      const seen = await discover(`skill=${skill}`, otherTenantKey);
      expect(seen.body.agents.map((agent) => [agent.name, agent.shared])).toEqual([
        [`Shared ${skill}`, true],
      ]);
      expect(
        (await api('DELETE', `/agents/${shared.body.id}`, undefined, otherTenantKey)).status,
      ).toBe(404);
      const catalog = (await (
        await fetch(`${registry.url}/.well-known/ai-catalog.json`)
      ).json()) as { agents: Array<{ name: string }> };
      expect(catalog.agents.map((agent) => agent.name)).toContain(`Shared ${skill}`);
    });
  });

  it('documents its API as OpenAPI, publicly', async () => {
    const response = await fetch(`${registry.url}/openapi.json`);
    expect(response.status).toBe(200);
    const document = (await response.json()) as {
      openapi: string;
      paths: Record<string, Record<string, unknown>>;
    };
    expect(document.openapi).toMatch(/^3\./);
    expect(Object.keys(document.paths)).toEqual(
      expect.arrayContaining([
        '/agents',
        '/agents/resolve',
        '/agents/{id}',
        '/agents/{id}/heartbeat',
      ]),
    );
    expect(Object.keys(document.paths['/agents'])).toEqual(expect.arrayContaining(['get', 'post']));
  });

  it('counts registry events and discovery cache hits', async () => {
    const skill = skillId();
    await register(cards.serve(`/${skill}/card.json`, card(`Counted ${skill}`, [{ id: skill }])));
    await discover(`skill=${skill}`);
    await discover(`skill=${skill}`);
    const text = await (await fetch(`${registry.url}/metrics`)).text();
    expect(text).toMatch(/a2a_registry_events_total\{event="registration"[^}]*\} [1-9]/);
    expect(text).toMatch(/a2a_discovery_cache_total\{result="hit"[^}]*\} [1-9]/);
    expect(text).toMatch(/a2a_agent_health\{agent_id="[0-9a-f-]{36}"[^}]*\} 1/);
  });

  describe('a real agent app', () => {
    let agent: SpawnedApp | undefined;

    afterAll(async () => {
      await agent?.stop('SIGKILL');
    });

    it('registers itself at boot, disappears within TTL + probe interval when killed, and comes back on restart', async () => {
      const env = {
        AGENTS: 'math',
        REGISTRY_URL: registry.url,
        REGISTRY_HEARTBEAT_INTERVAL_SECONDS: '1',
        REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-agent-registration`,
      };
      agent = await spawnApp('agent', env);
      const port = agent.port;
      const find = async () =>
        (await discover('skill=calculate&healthy=true')).body.agents
          .flatMap((entry) => entry.instances)
          .filter((instance) => instance.url.includes(`:${port}/`));
      await waitFor(async () => (await find()).length === 1, {
        what: 'the agent to register itself',
        timeoutMs: 15_000,
      });

      const killedAt = Date.now();
      await agent.stop('SIGKILL');
      await waitFor(async () => (await find()).length === 0, {
        what: 'the dead agent to leave discovery',
        timeoutMs: 15_000,
      });
      // TTL (2 s) + probe interval (1 s) + cache TTL (1 s), with a little slack for the sweep.
      expect(Date.now() - killedAt).toBeLessThan(6_000);

      agent = await spawnApp('agent', { ...env, PORT: String(port) });
      await waitFor(async () => (await find()).length === 1, {
        what: 'the restarted agent',
        timeoutMs: 15_000,
      });

      await agent.stop('SIGTERM');
      await sleep(200);
      const gone = await discover('skill=calculate&healthy=false');
      expect(
        gone.body.agents
          .flatMap((entry) => entry.instances)
          .filter((instance) => instance.url.includes(`:${port}/`)),
      ).toEqual([]);
    });
  });
});
