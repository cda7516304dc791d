import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

/**
 * Counts the requests of one batch. Requests that spend from the same budgets
 * (one tenant on one kind of route) form a group, counted at once: per
 * budget, in order, one INCRBY for the requests of the group still counted,
 * those whose hit is within the limit pass on to the next budget, the rest
 * are refused (and the budget blocked). So a refused request spends nothing
 * of the budgets after it, and the work does not grow with the requests.
 *
 * KEYS: the distinct budgets' keys, in pairs (hits, blocked). ARGV: the number
 * of groups, then per group its number of requests and of budgets and, per
 * budget, the index of its key pair, ttl, limit and block duration (ms).
 * Returns per group, per budget counted: {first hit of the group, msToReset,
 * requests passed, msToUnblock}. One round trip for the whole batch, atomic
 * across replicas.
 */
const INCREMENT_SCRIPT = `
local results = {}
local a = 2
for g = 1, tonumber(ARGV[1]) do
  local counted = {}
  local remaining, budgets = tonumber(ARGV[a]), tonumber(ARGV[a + 1])
  a = a + 2
  for b = 1, budgets do
    if remaining > 0 then
      local pair = tonumber(ARGV[a])
      local ttlMs, limit, blockMs = ARGV[a + 1], tonumber(ARGV[a + 2]), ARGV[a + 3]
      local hitsKey, blockKey = KEYS[2 * pair - 1], KEYS[2 * pair]
      local hits = redis.call('INCRBY', hitsKey, remaining)
      local ttl = redis.call('PTTL', hitsKey)
      if ttl < 0 then
        redis.call('PEXPIRE', hitsKey, ttlMs)
        ttl = tonumber(ttlMs)
      end
      local first = hits - remaining + 1
      local blocked = redis.call('PTTL', blockKey)
      local passed = 0
      if blocked <= 0 then
        passed = math.max(0, math.min(remaining, limit - first + 1))
        if passed < remaining then
          redis.call('SET', blockKey, '1', 'PX', blockMs)
          blocked = tonumber(blockMs)
        else
          blocked = 0
        end
      end
      table.insert(counted, {first, ttl, passed, blocked})
      remaining = passed
    end
    a = a + 4
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
 * script call, so that a busy replica makes one round trip per turn rather
 * than one per request, and the requests of one tenant on one kind of route
 * are counted together. Requests that spend from the same budget are counted
 * in arrival order within their group; groups are counted one after another
 * (all of one turn arrived together).
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
   * them blocked if one refused. Requests of a turn that pass the same array
   * are counted as one group.
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
    // Requests that spend from the same budgets share their array (the guard
    // keeps one per tenant and kind of route); grouped by it, the keys and
    // arguments are worked out per group, not per request.
    const groups = new Map<readonly ThrottleBudget[], PendingCount[]>();
    for (const pending of batch) {
      const members = groups.get(pending.budgets);
      if (members === undefined) groups.set(pending.budgets, [pending]);
      else members.push(pending);
    }
    const keys: string[] = [];
    const pairs = new Map<string, number>();
    const args: Array<string | number> = [groups.size];
    for (const [budgets, members] of groups) {
      args.push(members.length, budgets.length);
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
      let index = 0;
      for (const members of groups.values()) {
        const counted = results[index++] ?? [];
        members.forEach(({ resolve }, position) => {
          const records: ThrottlerStorageRecord[] = [];
          for (const [first, msToReset, passed, msToUnblock] of counted) {
            const isBlocked = position >= passed;
            records.push({
              totalHits: first + position,
              timeToExpire: Math.ceil(msToReset / 1000),
              isBlocked,
              timeToBlockExpire: isBlocked ? Math.ceil(msToUnblock / 1000) : 0,
            });
            if (isBlocked) break;
          }
          resolve(records);
        });
      }
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
