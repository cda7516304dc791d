import type { PlatformConfig } from '@app/config';
import { afterAll, describe, expect, it, jest } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import {
  LEASE_DIVISOR,
  MAX_LEASE,
  RedisThrottlerStorage,
  type ThrottleBudget,
  type ThrottlerStorageRecord,
} from './redis-throttler.storage.js';

describe('RedisThrottlerStorage (real Redis)', () => {
  const config = new ConfigService<PlatformConfig, true>({
    redis: { keyPrefix: `${process.env.REDIS_KEY_PREFIX}-throttle` },
  } as PlatformConfig);
  const redis = new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) });
  const offline = new Redis({
    host: '127.0.0.1',
    port: 1,
    enableOfflineQueue: false,
    lazyConnect: true,
    maxRetriesPerRequest: 0,
  });

  afterAll(async () => {
    await redis.quit();
    offline.disconnect();
  });

  it('counts hits in a window and blocks past the limit until the block expires', async () => {
    const storage = new RedisThrottlerStorage(redis, config);
    const key = randomUUID();
    const first = await storage.increment(key, 60_000, 2, 0, 'default');
    expect(first).toMatchObject({ totalHits: 1, isBlocked: false, timeToExpire: 60 });
    expect(await storage.increment(key, 60_000, 2, 0, 'default')).toMatchObject({
      totalHits: 2,
      isBlocked: false,
    });
    const third = await storage.increment(key, 60_000, 2, 0, 'default');
    expect(third).toMatchObject({ totalHits: 3, isBlocked: true, timeToBlockExpire: 60 });
    expect(await storage.increment(key, 60_000, 2, 0, 'other')).toMatchObject({
      totalHits: 1,
      isBlocked: false,
    });
  });

  it('counts one request against several budgets in one call, stopping at the first that refuses', async () => {
    const storage = new RedisThrottlerStorage(redis, config);
    const tenant = randomUUID();
    const budgets = [
      { name: 'default', key: tenant, ttlMs: 60_000, limit: 2, blockDurationMs: 0 },
      { name: 'message', key: tenant, ttlMs: 60_000, limit: 5, blockDurationMs: 0 },
    ];
    expect(await storage.incrementAll(budgets)).toMatchObject([
      { totalHits: 1, isBlocked: false },
      { totalHits: 1, isBlocked: false },
    ]);
    await storage.incrementAll(budgets);
    // The third request is refused by the first budget and spends nothing of the second.
    expect(await storage.incrementAll(budgets)).toMatchObject([{ totalHits: 3, isBlocked: true }]);
    expect(await storage.incrementAll([budgets[1]])).toMatchObject([
      { totalHits: 3, isBlocked: false },
    ]);
  });

  it('counts the requests of one turn of the event loop in one call, in arrival order', async () => {
    const storage = new RedisThrottlerStorage(redis, config);
    const [busy, quiet] = [randomUUID(), randomUUID()];
    const budget = (key: string) => [
      { name: 'default', key, ttlMs: 60_000, limit: 4, blockDurationMs: 0 },
    ];
    const script = jest.spyOn(
      redis as unknown as { a2aThrottleCount: () => unknown },
      'a2aThrottleCount',
    );
    const records = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        Promise.resolve(storage.incrementAll(budget(i % 5 === 4 ? quiet : busy))),
      ),
    );
    // The 8 requests of the busy tenant: the first 4 pass, in order; the quiet one's 2 both pass.
    expect(records.map(([record]) => [record.totalHits, record.isBlocked])).toEqual([
      [1, false],
      [2, false],
      [3, false],
      [4, false],
      [1, false],
      [5, true],
      [6, true],
      [7, true],
      [8, true],
      [2, false],
    ]);
    // One script call, not one per request.
    expect(script).toHaveBeenCalledTimes(1);
    script.mockRestore();
  });

  it('counts the requests of a turn that spend from the same budgets together, stopping each at the first budget that refuses', async () => {
    const storage = new RedisThrottlerStorage(redis, config);
    const tenant = randomUUID();
    const all = { name: 'default', key: tenant, ttlMs: 60_000, limit: 6, blockDurationMs: 0 };
    const messages = { name: 'message', key: tenant, ttlMs: 60_000, limit: 3, blockDurationMs: 0 };
    const script = jest.spyOn(
      redis as unknown as { a2aThrottleCount: () => unknown },
      'a2aThrottleCount',
    );
    // M: a message route (both budgets), D: another route (the tenant's whole budget only);
    // as from the guard, the requests of one kind pass the same array of budgets.
    const budgets = { M: [all, messages], D: [all] };
    const kinds = ['M', 'D', 'M', 'M', 'D', 'M', 'M'] as const;
    const records = await Promise.all(
      kinds.map((kind) => Promise.resolve(storage.incrementAll(budgets[kind]))),
    );
    const summary = records.map((counted) =>
      counted.map(({ totalHits, isBlocked }) => `${totalHits}${isBlocked ? ' refused' : ''}`),
    );
    // The message requests are counted first (the first to arrive); the last two are
    // refused by the message budget. Of the other route's two, the second is the 7th
    // hit of a budget of 6.
    expect(summary).toEqual([
      ['1', '1'],
      ['6'],
      ['2', '2'],
      ['3', '3'],
      ['7 refused'],
      ['4', '4 refused'],
      ['5', '5 refused'],
    ]);
    expect(records[4][0].timeToBlockExpire).toBe(60);
    expect(records[0][0].timeToBlockExpire).toBe(0);
    expect(script).toHaveBeenCalledTimes(1);
    script.mockRestore();
    // Both budgets are blocked now: a request is refused by the first and spends nothing of the second.
    expect(await storage.incrementAll([all, messages])).toMatchObject([
      { totalHits: 8, isBlocked: true },
    ]);
    expect(await storage.incrementAll([messages])).toMatchObject([
      { totalHits: 6, isBlocked: true },
    ]);
  });

  it('two storages (two replicas) share one counter', async () => {
    const key = randomUUID();
    const a = new RedisThrottlerStorage(redis, config);
    const otherConnection = redis.duplicate();
    const b = new RedisThrottlerStorage(otherConnection, config);
    await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        (i % 2 ? a : b).increment(key, 60_000, 100, 0, 'default'),
      ),
    );
    expect((await a.increment(key, 60_000, 100, 0, 'default')).totalHits).toBe(11);
    await otherConnection.quit();
  });

  it('lets requests through when Redis is away', async () => {
    const storage = new RedisThrottlerStorage(offline, config);
    expect(await storage.increment(randomUUID(), 60_000, 1, 0, 'default')).toEqual({
      totalHits: 0,
      timeToExpire: 0,
      isBlocked: false,
      timeToBlockExpire: 0,
    });
  });
  describe('leases', () => {
    const budget = (key: string, limit: number, ttlMs = 60_000): ThrottleBudget[] => [
      { name: 'default', key, ttlMs, limit, blockDurationMs: 0 },
    ];
    const hitsInRedis = async (key: string) =>
      Number(
        await redis.get(`${process.env.REDIS_KEY_PREFIX}-throttle:throttle:default:${key}:hits`),
      );
    const spyOnScript = () =>
      jest.spyOn(redis as unknown as { a2aThrottleCount: () => unknown }, 'a2aThrottleCount');

    it('reserves a share of a large budget, and counts later requests against it without a round trip', async () => {
      const storage = new RedisThrottlerStorage(redis, config);
      const key = randomUUID();
      const limit = 100_000;
      const script = spyOnScript();
      expect(await storage.incrementAll(budget(key, limit))).toMatchObject([
        { totalHits: 1, isBlocked: false, timeToExpire: 60 },
      ]);
      const leased = Math.min(MAX_LEASE, Math.floor((limit - 1) / LEASE_DIVISOR));
      expect(await hitsInRedis(key)).toBe(1 + leased);

      // The lease's hits, in order, each answered at once: an array, not a promise.
      const answers = Array.from({ length: leased }, () =>
        storage.incrementAll(budget(key, limit)),
      );
      expect(answers.every((answer) => Array.isArray(answer))).toBe(true);
      const hits = (answers as ThrottlerStorageRecord[][]).map(([record]) => record.totalHits);
      expect(hits).toEqual(Array.from({ length: leased }, (_, i) => i + 2));
      expect(script).toHaveBeenCalledTimes(1);

      // Spent: the next request is counted in Redis again, after the hits leased.
      const next = storage.incrementAll(budget(key, limit));
      expect(Array.isArray(next)).toBe(false);
      expect(await next).toMatchObject([{ totalHits: leased + 2, isBlocked: false }]);
      expect(script).toHaveBeenCalledTimes(2);
      script.mockRestore();
    });

    it('asks for one lease at a time: a request while it is being granted is counted, not leased again', async () => {
      const storage = new RedisThrottlerStorage(redis, config);
      const key = randomUUID();
      const limit = 100_000;
      // Hold writes in Redis for a moment, so that the first call is still in flight.
      const pauser = redis.duplicate();
      const leased = Math.min(MAX_LEASE, Math.floor((limit - 1) / LEASE_DIVISOR));
      try {
        await pauser.call('CLIENT', 'PAUSE', '300', 'WRITE');
        const first = Promise.resolve(storage.incrementAll(budget(key, limit)));
        await new Promise((resolve) => setTimeout(resolve, 50));
        const second = Promise.resolve(storage.incrementAll(budget(key, limit)));
        expect(await Promise.all([first, second])).toMatchObject([
          [{ totalHits: 1 }],
          [{ totalHits: 2 + leased }],
        ]);
        expect(await hitsInRedis(key)).toBe(1 + leased + 1);
      } finally {
        await pauser.quit();
      }
    });

    it(`leases nothing of a budget under ${LEASE_DIVISOR} requests: each request is counted in Redis`, async () => {
      const storage = new RedisThrottlerStorage(redis, config);
      const key = randomUUID();
      const script = spyOnScript();
      for (let i = 1; i <= 5; i++) {
        const answer = storage.incrementAll(budget(key, LEASE_DIVISOR - 1));
        expect(Array.isArray(answer)).toBe(false);
        expect(await answer).toMatchObject([{ totalHits: i }]);
      }
      expect(script).toHaveBeenCalledTimes(5);
      expect(await hitsInRedis(key)).toBe(5);
      script.mockRestore();
    });

    it('two replicas with leases let exactly the limit through, each hit once', async () => {
      const key = randomUUID();
      const limit = 1_000;
      const otherConnection = redis.duplicate();
      const replicas = [
        new RedisThrottlerStorage(redis, config),
        new RedisThrottlerStorage(otherConnection, config),
      ];
      const records: ThrottlerStorageRecord[] = [];
      // Turns of 20 requests, alternating between the replicas, well past the limit.
      for (let turn = 0; turn < 80; turn++) {
        const answers = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            Promise.resolve(replicas[(turn + i) % 2].incrementAll(budget(key, limit))),
          ),
        );
        records.push(...answers.map(([record]) => record));
      }
      const passed = records.filter((record) => !record.isBlocked);
      expect(passed).toHaveLength(limit);
      expect(new Set(passed.map((record) => record.totalHits)).size).toBe(limit);
      expect(Math.max(...passed.map((record) => record.totalHits))).toBe(limit);
      await otherConnection.quit();
    });

    it('a lease ends with its window', async () => {
      const storage = new RedisThrottlerStorage(redis, config);
      const key = randomUUID();
      await storage.incrementAll(budget(key, 10_000, 300));
      expect(storage.incrementAll(budget(key, 10_000, 300))).toMatchObject([{ totalHits: 2 }]);
      await new Promise((resolve) => setTimeout(resolve, 350));
      const afterWindow = storage.incrementAll(budget(key, 10_000, 300));
      expect(Array.isArray(afterWindow)).toBe(false);
      expect(await afterWindow).toMatchObject([{ totalHits: 1, isBlocked: false }]);
    });
  });
});
