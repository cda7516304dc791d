import { Injectable, type CanActivate, type ExecutionContext } from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { PerRoute } from '@app/security';
import {
  InjectThrottlerOptions,
  InjectThrottlerStorage,
  type ThrottlerModuleOptions,
  type ThrottlerOptions,
} from '@nestjs/throttler';
import type {
  RedisThrottlerStorage,
  ThrottleBudget,
  ThrottlerStorageRecord,
} from './redis-throttler.storage.js';
import {
  IS_MESSAGE_ROUTE,
  MESSAGE_THROTTLER,
  type MessageSendPredicate,
} from './throttle-names.js';
import { TooManyRequestsException } from './too-many-requests.exception.js';

type ThrottledRequest = {
  auth?: { tenantId: string };
  ip?: string;
  body?: unknown;
  params?: unknown;
};
type ReplyWithHeaders = { header(name: string, value: string | number): unknown };

/** A configured throttler with its numbers checked once. */
interface Throttler {
  readonly name: string;
  readonly ttlMs: number;
  readonly limit: number;
  readonly blockDurationMs: number;
}

/** What the decorators of one handler say about throttling, read once per handler. */
interface RouteThrottling {
  /** Throttlers `@SkipThrottle()` turns off for the route. */
  readonly skipped: ReadonlySet<string>;
  /** Whether the route sends messages (a predicate for a route that serves several operations). */
  readonly message: boolean | MessageSendPredicate;
  /**
   * The budgets a tracker spends from on this route, without and with the
   * message budget: one array per tracker, so that the storage counts a
   * turn's requests of one tenant together.
   */
  readonly budgets: readonly [
    Map<string, readonly ThrottleBudget[]>,
    Map<string, readonly ThrottleBudget[]>,
  ];
}

/** The response headers of one throttler. */
interface HeaderNames {
  readonly limit: string;
  readonly remaining: string;
  readonly reset: string;
  readonly retryAfter: string;
}

/** Trackers whose budgets a route keeps at most (client addresses before authentication can be many). */
const MAX_TRACKERS_PER_ROUTE = 10_000;

/** @nestjs/throttler's metadata key of `@SkipThrottle()`, followed by the throttler's name. */
const SKIP_METADATA = 'THROTTLER:SKIP';
const HEADER_PREFIX = 'X-RateLimit';

function numeric(value: ThrottlerOptions['limit'] | undefined, what: string): number {
  if (typeof value !== 'number') throw new Error(`Throttler ${what} must be a number`);
  return value;
}

/**
 * Budgets are per tenant (per client address before authentication) and span
 * all routes, so a tenant cannot multiply its budget by spreading requests.
 *
 * The throttlers, `@SkipThrottle()` and response headers of @nestjs/throttler,
 * with its guard's work done differently on the hot path: a request is
 * counted against all its budgets at once (its guard makes a round trip per
 * throttler), each handler's decorators are read once rather than on every
 * request, and a request this replica's leases can count is answered without
 * a promise (see RedisThrottlerStorage).
 */
@Injectable()
export class TenantThrottlerGuard implements CanActivate {
  /** In @nestjs/throttler's order: shortest window first. */
  private readonly throttlers: readonly Throttler[];

  /** What a route's decorators say about throttling, read once per route. */
  private readonly routes = new PerRoute<RouteThrottling>((targets) => {
    const skipped = new Set<string>();
    for (const { name } of this.throttlers) {
      if (this.reflector.getAllAndOverride<boolean>(`${SKIP_METADATA}${name}`, targets))
        skipped.add(name);
    }
    const message = this.reflector.getAllAndOverride<boolean | MessageSendPredicate | undefined>(
      IS_MESSAGE_ROUTE,
      targets,
    );
    return { skipped, message: message ?? false, budgets: [new Map(), new Map()] };
  });

  private readonly headerNames = new Map<string, HeaderNames>();

  constructor(
    @InjectThrottlerOptions() options: ThrottlerModuleOptions,
    @InjectThrottlerStorage() private readonly storage: RedisThrottlerStorage,
    private readonly reflector: Reflector,
  ) {
    const configured = Array.isArray(options) ? options : options.throttlers;
    this.throttlers = configured
      .map((throttler) => {
        const ttlMs = numeric(throttler.ttl, 'ttl');
        return {
          name: throttler.name ?? 'default',
          ttlMs,
          limit: numeric(throttler.limit, 'limit'),
          blockDurationMs: numeric(throttler.blockDuration ?? ttlMs, 'blockDuration'),
        };
      })
      .sort((first, second) => first.ttlMs - second.ttlMs);
  }

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    const route = this.routes.of(context);
    const http = context.switchToHttp();
    const request = http.getRequest<ThrottledRequest>();
    const counts = typeof route.message === 'function' ? route.message(request) : route.message;
    const budgets = this.budgetsOf(route, this.trackerOf(request), counts);
    if (budgets.length === 0) return true;

    const reply = http.getResponse<ReplyWithHeaders>();
    const records = this.storage.incrementAll(budgets);
    return Array.isArray(records)
      ? this.answer(budgets, records, reply)
      : records.then((counted) => this.answer(budgets, counted, reply));
  }

  /** Sets the rate-limit headers, or refuses the request with the budget that refused it. */
  private answer(
    budgets: readonly ThrottleBudget[],
    records: readonly ThrottlerStorageRecord[],
    reply: ReplyWithHeaders,
  ): boolean {
    for (const [index, record] of records.entries()) {
      const budget = budgets[index];
      const headers = this.headersOf(budget.name);
      if (record.isBlocked) {
        const retryAfter = Math.max(1, record.timeToBlockExpire);
        reply.header(headers.retryAfter, retryAfter);
        throw new TooManyRequestsException(retryAfter);
      }
      reply.header(headers.limit, budget.limit);
      reply.header(headers.remaining, Math.max(0, budget.limit - record.totalHits));
      reply.header(headers.reset, record.timeToExpire);
    }
    return true;
  }

  /** The budgets a request spends from, in the throttlers' order. */
  private budgetsOf(
    route: RouteThrottling,
    tracker: string,
    counts: boolean,
  ): readonly ThrottleBudget[] {
    const known = route.budgets[counts ? 1 : 0];
    const budgets = known.get(tracker);
    if (budgets !== undefined) return budgets;
    const fresh: ThrottleBudget[] = [];
    for (const throttler of this.throttlers) {
      const { name } = throttler;
      if (route.skipped.has(name)) continue;
      if (name === MESSAGE_THROTTLER && !counts) continue;
      fresh.push({
        name,
        key: `${name}:${tracker}`,
        ttlMs: throttler.ttlMs,
        limit: throttler.limit,
        blockDurationMs: throttler.blockDurationMs,
      });
    }
    if (known.size >= MAX_TRACKERS_PER_ROUTE) known.clear();
    known.set(tracker, fresh);
    return fresh;
  }

  private headersOf(throttler: string): HeaderNames {
    let names = this.headerNames.get(throttler);
    if (names === undefined) {
      const suffix = throttler === 'default' ? '' : `-${throttler}`;
      names = {
        limit: `${HEADER_PREFIX}-Limit${suffix}`,
        remaining: `${HEADER_PREFIX}-Remaining${suffix}`,
        reset: `${HEADER_PREFIX}-Reset${suffix}`,
        retryAfter: `Retry-After${suffix}`,
      };
      this.headerNames.set(throttler, names);
    }
    return names;
  }

  private trackerOf(request: ThrottledRequest): string {
    return request.auth ? `tenant:${request.auth.tenantId}` : `ip:${request.ip ?? 'unknown'}`;
  }
}
