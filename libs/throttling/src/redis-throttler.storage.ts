import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

/**
 * Counts one hit against each budget in KEYS (pairs of hits and blocked
 * keys; ARGV: ttl, limit, block duration per pair), in order, and stops at
 * the first budget that refuses, so a refused request spends nothing of the
 * budgets after it. Returns {hits, msToReset, blocked (0|1), msToUnblock} per
 * budget counted. One round trip, atomic across replicas.
 */
const INCREMENT_SCRIPT = `
local results = {}
for i = 1, #KEYS / 2 do
  local hitsKey, blockKey = KEYS[2 * i - 1], KEYS[2 * i]
  local ttlMs, limit, blockMs = ARGV[3 * i - 2], tonumber(ARGV[3 * i - 1]), ARGV[3 * i]
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
    table.insert(results, {hits, ttl, 1, blocked})
    return results
  end
  table.insert(results, {hits, ttl, 0, 0})
end
return results
`;

type RedisWithThrottle = Redis & {
  a2aThrottleIncrementAll(
    numberOfKeys: number,
    ...keysAndArgs: Array<string | number>
  ): Promise<Array<[number, number, number, number]>>;
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

const UNLIMITED: ThrottlerStorageRecord = {
  totalHits: 0,
  timeToExpire: 0,
  isBlocked: false,
  timeToBlockExpire: 0,
};

/**
 * Fixed-window counters in Redis, so that every replica spends one budget.
 * When Redis is away, requests pass (and a warning is logged): an outage of the
 * limiter must not become an outage of the platform.
 */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger(RedisThrottlerStorage.name);
  private readonly prefix: string;
  private lastWarning = 0;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(ConfigService) config: PlatformConfigService,
  ) {
    this.prefix = `${config.get('redis', { infer: true }).keyPrefix}:throttle`;
    if (!('a2aThrottleIncrementAll' in redis)) {
      redis.defineCommand('a2aThrottleIncrementAll', { lua: INCREMENT_SCRIPT });
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
   * Counts a request against several budgets in one round trip, in order,
   * stopping at the first that refuses: the result has one record per budget
   * counted, the last of them blocked if one refused.
   */
  async incrementAll(budgets: readonly ThrottleBudget[]): Promise<ThrottlerStorageRecord[]> {
    const keys: string[] = [];
    const args: number[] = [];
    for (const budget of budgets) {
      const base = `${this.prefix}:${budget.name}:${budget.key}`;
      keys.push(`${base}:hits`, `${base}:blocked`);
      args.push(
        budget.ttlMs,
        budget.limit,
        budget.blockDurationMs > 0 ? budget.blockDurationMs : budget.ttlMs,
      );
    }
    try {
      const results = await (this.redis as RedisWithThrottle).a2aThrottleIncrementAll(
        keys.length,
        ...keys,
        ...args,
      );
      return results.map(([totalHits, msToReset, blocked, msToUnblock]) => ({
        totalHits,
        timeToExpire: Math.ceil(msToReset / 1000),
        isBlocked: blocked === 1,
        timeToBlockExpire: Math.ceil(msToUnblock / 1000),
      }));
    } catch (error) {
      const now = Date.now();
      if (now - this.lastWarning > 10_000) {
        this.lastWarning = now;
        this.logger.warn(
          `Rate limits not enforced, Redis unavailable: ${(error as Error).message}`,
        );
      }
      return budgets.map(() => UNLIMITED);
    }
  }
}
