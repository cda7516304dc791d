import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

/**
 * Counts the requests of one batch, in order. KEYS: the distinct budgets'
 * keys, in pairs (hits, blocked). ARGV: the number of requests, then per
 * request its number of budgets and, per budget, the index of its key pair,
 * ttl, limit and block duration (ms). A request is counted against its
 * budgets in order and stops at the first that refuses, so a refused request
 * spends nothing of the budgets after it. Returns per request, per budget
 * counted: {hits, msToReset, blocked (0|1), msToUnblock}. One round trip for
 * the whole batch, atomic across replicas.
 */
const INCREMENT_SCRIPT = `
local results = {}
local a = 2
for r = 1, tonumber(ARGV[1]) do
  local counted = {}
  local budgets = tonumber(ARGV[a])
  a = a + 1
  for b = 1, budgets do
    local pair = tonumber(ARGV[a])
    local ttlMs, limit, blockMs = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
    a = a + 4
    local hitsKey, blockKey = KEYS[2 * pair - 1], KEYS[2 * pair]
    local hits = redis.call('INCR', hitsKey)
    local ttl = redis.call('PTTL', hitsKey)
    if ttl < 0 then
      redis.call('PEXPIRE', hitsKey, ttlMs)
      ttl = tonumber(ttlMs)
    end
    local blocked = redis.call('PTTL', blockKey)
    if blocked <= 0 and hits > limit then
      redis.call('SET', blockKey, '1', 'PX', blockMs)
      blocked = tonumber(blockMs)
    end
    if blocked > 0 then
      table.insert(counted, {hits, ttl, 1, blocked})
      a = a + 4 * (budgets - b)
      break
    end
    table.insert(counted, {hits, ttl, 0, 0})
  end
  table.insert(results, counted)
end
return results
`;

type RedisWithThrottle = Redis & {
  a2aThrottleCount(
    numberOfKeys: number,
    ...keysAndArgs: Array<string | number>
  ): Promise<Array<Array<[number, number, number, number]>>>;
};

type PendingCount = {
  readonly budgets: readonly ThrottleBudget[];
  readonly resolve: (records: ThrottlerStorageRecord[]) => void;
};

/** What a budget said about one request (the shape of @nestjs/throttler's storage record). */
export interface ThrottlerStorageRecord {
  readonly totalHits: number;
  readonly timeToExpire: number;
  readonly isBlocked: boolean;
  readonly timeToBlockExpire: number;
}

/** One budget a request spends from: its key and window. */
export interface ThrottleBudget {
  readonly name: string;
  readonly key: string;
  readonly ttlMs: number;
  readonly limit: number;
  /** How long the key stays blocked once over the limit (0: until the window ends). */
  readonly blockDurationMs: number;
}

/** Requests counted in one script call at most. */
const MAX_BATCH = 500;

const UNLIMITED: ThrottlerStorageRecord = {
  totalHits: 0,
  timeToExpire: 0,
  isBlocked: false,
  timeToBlockExpire: 0,
};

/**
 * Fixed-window counters in Redis, so that every replica spends one budget.
 * The requests that arrive in one turn of the event loop are counted with one
 * script call, in arrival order, so that a busy replica makes one round trip
 * per turn rather than one per request.
 * When Redis is away, requests pass (and a warning is logged): an outage of the
 * limiter must not become an outage of the platform.
 */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger(RedisThrottlerStorage.name);
  private readonly prefix: string;
  private lastWarning = 0;
  private batch: PendingCount[] = [];

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(ConfigService) config: PlatformConfigService,
  ) {
    this.prefix = `${config.get('redis', { infer: true }).keyPrefix}:throttle`;
    if (!('a2aThrottleCount' in redis)) {
      redis.defineCommand('a2aThrottleCount', { lua: INCREMENT_SCRIPT });
    }
  }

  async increment(
    key: string,
    ttl: number,
    limit: number,
    blockDuration: number,
    throttlerName: string,
  ): Promise<ThrottlerStorageRecord> {
    const [record] = await this.incrementAll([
      { name: throttlerName, key, ttlMs: ttl, limit, blockDurationMs: blockDuration },
    ]);
    return record ?? UNLIMITED;
  }

  /**
   * Counts a request against several budgets, in order, stopping at the first
   * that refuses: the result has one record per budget counted, the last of
   * them blocked if one refused.
   */
  incrementAll(budgets: readonly ThrottleBudget[]): Promise<ThrottlerStorageRecord[]> {
    if (budgets.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      if (this.batch.length === 0) setImmediate(() => void this.count());
      this.batch.push({ budgets, resolve });
      // A very busy turn is counted in several calls, each of a bounded size.
      if (this.batch.length >= MAX_BATCH) void this.count();
    });
  }

  private async count(): Promise<void> {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const keys: string[] = [];
    const pairs = new Map<string, number>();
    const args: Array<string | number> = [batch.length];
    for (const { budgets } of batch) {
      args.push(budgets.length);
      for (const budget of budgets) {
        const base = `${this.prefix}:${budget.name}:${budget.key}`;
        let pair = pairs.get(base);
        if (pair === undefined) {
          keys.push(`${base}:hits`, `${base}:blocked`);
          pair = keys.length / 2;
          pairs.set(base, pair);
        }
        args.push(
          pair,
          budget.ttlMs,
          budget.limit,
          budget.blockDurationMs > 0 ? budget.blockDurationMs : budget.ttlMs,
        );
      }
    }
    try {
      const results = await (this.redis as RedisWithThrottle).a2aThrottleCount(
        keys.length,
        ...keys,
        ...args,
      );
      batch.forEach(({ resolve }, index) =>
        resolve(
          (results[index] ?? []).map(([totalHits, msToReset, blocked, msToUnblock]) => ({
            totalHits,
            timeToExpire: Math.ceil(msToReset / 1000),
            isBlocked: blocked === 1,
            timeToBlockExpire: Math.ceil(msToUnblock / 1000),
          })),
        ),
      );
    } catch (error) {
      const now = Date.now();
      if (now - this.lastWarning > 10_000) {
        this.lastWarning = now;
        this.logger.warn(
          `Rate limits not enforced, Redis unavailable: ${(error as Error).message}`,
        );
      }
      // Resolving twice is harmless: a request that already has its answer keeps it.
      for (const { budgets, resolve } of batch) resolve(budgets.map(() => UNLIMITED));
    }
  }
}
