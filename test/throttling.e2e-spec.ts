import { openTestDataSource, spawnApp, type SpawnedApp, memberKey } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

describe('rate limits shared by replicas through Redis', () => {
  const LIMIT = 100;
  let dataSource: DataSource;
  let replicas: SpawnedApp[];

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    const env = { THROTTLE_DEFAULT_LIMIT: String(LIMIT), THROTTLE_TTL_SECONDS: '60' };
    replicas = await Promise.all([spawnApp('registry', env), spawnApp('registry', env)]);
  });

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await dataSource.destroy();
  });

  const newTenantKey = () => memberKey(dataSource, `t-${randomUUID().slice(0, 12)}`);

  it('the 101st request in a minute across two instances gets 429 with Retry-After', async () => {
    const key = await newTenantKey();
    const call = (replica: SpawnedApp) =>
      fetch(`${replica.url}/auth/whoami`, { headers: { authorization: `Bearer ${key}` } });

    const statuses: number[] = [];
    for (let batch = 0; batch < LIMIT / 10; batch++) {
      const responses = await Promise.all(
        Array.from({ length: 10 }, (_, i) => call(replicas[i % 2])),
      );
      statuses.push(...responses.map((response) => response.status));
    }
    expect(statuses.filter((status) => status === 200)).toHaveLength(LIMIT);

    const refused = await call(replicas[statuses.length % 2]);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(refused.headers.get('content-type')).toContain('application/problem+json');
    expect(await refused.json()).toMatchObject({ status: 429, title: 'Too Many Requests' });
    expect((await call(replicas[(statuses.length + 1) % 2])).status).toBe(429);
  });

  it("one tenant's exhausted budget leaves another tenant's alone", async () => {
    const busy = await newTenantKey();
    const quiet = await newTenantKey();
    await Promise.all(
      Array.from({ length: LIMIT + 5 }, (_, i) =>
        fetch(`${replicas[i % 2].url}/auth/whoami`, { headers: { 'x-api-key': busy } }),
      ),
    );
    const busyAgain = await fetch(`${replicas[0].url}/auth/whoami`, {
      headers: { 'x-api-key': busy },
    });
    expect(busyAgain.status).toBe(429);
    const other = await fetch(`${replicas[1].url}/auth/whoami`, {
      headers: { 'x-api-key': quiet },
    });
    expect(other.status).toBe(200);
  });

  it('health, readiness and metrics are never throttled', async () => {
    const key = await newTenantKey();
    await Promise.all(
      Array.from({ length: LIMIT + 1 }, () =>
        fetch(`${replicas[0].url}/auth/whoami`, { headers: { 'x-api-key': key } }),
      ),
    );
    for (const path of ['/health', '/ready', '/metrics']) {
      expect((await fetch(`${replicas[0].url}${path}`)).status).toBe(200);
    }
  });
});
