import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { ThrottlerStorage } from '@nestjs/throttler';
import type { Redis } from 'ioredis';

/**
 * A budget's hits left after a group are handed to the replica that counted
 * it as a lease of this share of them (rounded down, at most MAX_LEASE): a
 * budget of fewer than LEASE_DIVISOR requests per window is never leased, so
 * every request of it is counted in Redis, and a lease shrinks as its budget
 * runs out.
 */
export const LEASE_DIVISOR = 100;
export const MAX_LEASE = 1000;

/**
 * Counts the requests of one batch. Requests that spend from the same budgets
 * (one tenant on one kind of route) form a group, counted at once: per
 * budget, in order, one INCRBY for the requests of the group still counted,
 * those whose hit is within the limit pass on to the next budget, the rest
 * are refused (and the budget blocked). So a refused request spends nothing
 * of the budgets after it, and the work does not grow with the requests.
 * When the group asks for a lease of a budget and all of it passed, the hits
 * after the group's are reserved for the replica as well (see LEASE_DIVISOR).
 *
 * KEYS: the distinct budgets' keys, in pairs (hits, blocked). ARGV: the number
 * of groups, then per group its number of requests and of budgets and, per
 * budget, the index of its key pair, ttl, limit, block duration (ms) and
 * whether to lease. Returns per group, per budget counted: {first hit of the
 * group, msToReset, requests passed, msToUnblock, hits leased}. One round
 * trip for the whole batch, atomic across replicas.
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
      local leased = 0
      if blocked <= 0 then
        passed = math.max(0, math.min(remaining, limit - first + 1))
        if passed < remaining then
          redis.call('SET', blockKey, '1', 'PX', blockMs)
          blocked = tonumber(blockMs)
        else
          blocked = 0
          if ARGV[a + 4] == '1' then
            leased = math.min(${MAX_LEASE}, math.floor((limit - hits) / ${LEASE_DIVISOR}))
            if leased > 0 then redis.call('INCRBY', hitsKey, leased) end
          end
        end
      end
      table.insert(counted, {first, ttl, passed, blocked, leased})
      remaining = passed
    end
    a = a + 5
  end
  table.insert(results, counted)
end
return results
`;

type RedisWithThrottle = Redis & {
  a2aThrottleCount(
    numberOfKeys: number,
    ...keysAndArgs: Array<string | number>
  ): Promise<Array<Array<[number, number, number, number, number]>>>;
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

/** Hits of a budget reserved in Redis for this replica: `next` to `last`, until the window ends. */
interface Lease {
  next: number;
  readonly last: number;
  readonly expiresAt: number;
}

/** Requests counted in one script call at most. */
const MAX_BATCH = 500;
/** Budgets whose leases a replica keeps at most (client addresses before authentication can be many). */
const MAX_LEASES = 10_000;

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
 *
 * A large budget is also leased: the call that counts a group reserves a
 * share of the hits left in the window for this replica, and later requests
 * are counted against that lease in memory, with no round trip, until it is
 * spent. Hits are reserved in Redis before they are used, so the replicas
 * together never let more than the limit through; what a replica leased and
 * did not use is lost to the others until the window ends, at most a
 * LEASE_DIVISOR-th of the hits left when it was leased.
 *
 * When Redis is away, requests pass (and a warning is logged): an outage of the
 * limiter must not become an outage of the platform.
 */
@Injectable()
export class RedisThrottlerStorage implements ThrottlerStorage {
  private readonly logger = new Logger(RedisThrottlerStorage.name);
  private readonly prefix: string;
  private lastWarning = 0;
  private batch: PendingCount[] = [];
  /** Leases by budget key (the pair's base key in Redis). */
  private readonly leases = new Map<string, Lease>();
  /** Budgets whose lease a call in flight asks for: the calls after it do not ask again. */
  private readonly leasing = new Set<string>();
  /** Each budget's base key in Redis, worked out once per budget object. */
  private readonly baseKeys = new WeakMap<ThrottleBudget, string>();

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
   * them blocked if one refused. When this replica holds a lease of every
   * budget, the answer is immediate (no promise); otherwise the requests of a
   * turn that pass the same array are counted in Redis as one group.
   */
  incrementAll(
    budgets: readonly ThrottleBudget[],
  ): ThrottlerStorageRecord[] | Promise<ThrottlerStorageRecord[]> {
    if (budgets.length === 0) return [];
    const leased = this.fromLeases(budgets);
    if (leased !== undefined) return leased;
    return new Promise((resolve) => {
      if (this.batch.length === 0) setImmediate(() => void this.count());
      this.batch.push({ budgets, resolve });
      // A very busy turn is counted in several calls, each of a bounded size.
      if (this.batch.length >= MAX_BATCH) void this.count();
    });
  }

  private baseKeyOf(budget: ThrottleBudget): string {
    let base = this.baseKeys.get(budget);
    if (base === undefined) {
      base = `${this.prefix}:${budget.name}:${budget.key}`;
      this.baseKeys.set(budget, base);
    }
    return base;
  }

  /** The request counted against this replica's leases, if it holds one of every budget. */
  private fromLeases(budgets: readonly ThrottleBudget[]): ThrottlerStorageRecord[] | undefined {
    const now = Date.now();
    for (const budget of budgets) {
      const lease = this.leases.get(this.baseKeyOf(budget));
      if (lease === undefined || lease.next > lease.last || lease.expiresAt <= now)
        return undefined;
    }
    return budgets.map((budget) => {
      const lease = this.leases.get(this.baseKeyOf(budget)) as Lease;
      return {
        totalHits: lease.next++,
        timeToExpire: Math.ceil((lease.expiresAt - now) / 1000),
        isBlocked: false,
        timeToBlockExpire: 0,
      };
    });
  }

  /** Whether this replica should ask for a lease of a budget (it has none left, nor one coming). */
  private wantsLease(base: string, now: number): boolean {
    if (this.leasing.has(base)) return false;
    const lease = this.leases.get(base);
    return lease === undefined || lease.next > lease.last || lease.expiresAt <= now;
  }

  private keepLease(base: string, lease: Lease, now: number): void {
    if (this.leases.size >= MAX_LEASES && !this.leases.has(base)) {
      for (const [key, held] of this.leases) if (held.expiresAt <= now) this.leases.delete(key);
      if (this.leases.size >= MAX_LEASES) this.leases.clear();
    }
    this.leases.set(base, lease);
  }

  private async count(): Promise<void> {
    const batch = this.batch;
    if (batch.length === 0) return;
    this.batch = [];
    const now = Date.now();
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
    /** Per group, per budget: the base key it leases under, if it asked for a lease. */
    const leaseKeys: Array<Array<string | undefined>> = [];
    const args: Array<string | number> = [groups.size];
    for (const [budgets, members] of groups) {
      args.push(members.length, budgets.length);
      const asked: Array<string | undefined> = [];
      for (const budget of budgets) {
        const base = this.baseKeyOf(budget);
        let pair = pairs.get(base);
        // One lease per budget and call: the first group that spends from it asks.
        const lease = pair === undefined && this.wantsLease(base, now);
        if (pair === undefined) {
          keys.push(`${base}:hits`, `${base}:blocked`);
          pair = keys.length / 2;
          pairs.set(base, pair);
        }
        asked.push(lease ? base : undefined);
        if (lease) this.leasing.add(base);
        args.push(
          pair,
          budget.ttlMs,
          budget.limit,
          budget.blockDurationMs > 0 ? budget.blockDurationMs : budget.ttlMs,
          lease ? 1 : 0,
        );
      }
      leaseKeys.push(asked);
    }
    const asking = leaseKeys.flat().filter((base): base is string => base !== undefined);
    try {
      const results = await (this.redis as RedisWithThrottle).a2aThrottleCount(
        keys.length,
        ...keys,
        ...args,
      );
      let index = 0;
      for (const members of groups.values()) {
        const asked = leaseKeys[index];
        const counted = results[index++] ?? [];
        counted.forEach(([first, msToReset, passed, , leased], budget) => {
          const base = asked[budget];
          if (base === undefined || leased <= 0) return;
          const next = first + passed;
          // From the time the call was made: the lease ends no later than the window in Redis.
          this.keepLease(base, { next, last: next + leased - 1, expiresAt: now + msToReset }, now);
        });
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
    } finally {
      for (const base of asking) this.leasing.delete(base);
    }
  }
}
