import { Injectable, type ExecutionContext } from '@nestjs/common';
import { PerRoute } from '@app/security';
import { ThrottlerGuard, type ThrottlerOptions } from '@nestjs/throttler';
import type { RedisThrottlerStorage, ThrottleBudget } from './redis-throttler.storage.js';
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

function numeric(value: ThrottlerOptions['limit'] | undefined, what: string): number {
  if (typeof value !== 'number') throw new Error(`Throttler ${what} must be a number`);
  return value;
}

/**
 * Budgets are per tenant (per client address before authentication) and span
 * all routes, so a tenant cannot multiply its budget by spreading requests.
 *
 * The throttlers and `@SkipThrottle()` of @nestjs/throttler, with two changes
 * on the hot path: a request is counted against all its budgets in one Redis
 * round trip (its guard would make one per throttler), and each handler's
 * decorators are read once rather than on every request.
 */
@Injectable()
export class TenantThrottlerGuard extends ThrottlerGuard {
  /** What a route's decorators say about throttling, read once per route. */
  private readonly routes = new PerRoute<RouteThrottling>((targets) => {
    const skipped = new Set<string>();
    for (const throttler of this.throttlers) {
      const name = throttler.name ?? 'default';
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

  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    return Promise.resolve(this.trackerOf(req as ThrottledRequest));
  }

  override async canActivate(context: ExecutionContext): Promise<boolean> {
    const route = this.routes.of(context);
    const { req, res } = this.getRequestResponse(context);
    const request = req as ThrottledRequest;
    const counts = typeof route.message === 'function' ? route.message(request) : route.message;
    const budgets = this.budgetsOf(route, this.trackerOf(request), counts);
    if (budgets.length === 0) return true;

    const records = await (this.storageService as RedisThrottlerStorage).incrementAll(budgets);
    const reply = res as ReplyWithHeaders;
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
      const name = throttler.name ?? 'default';
      if (route.skipped.has(name)) continue;
      if (name === MESSAGE_THROTTLER && !counts) continue;
      const ttlMs = numeric(throttler.ttl, 'ttl');
      fresh.push({
        name,
        key: `${name}:${tracker}`,
        ttlMs,
        limit: numeric(throttler.limit, 'limit'),
        blockDurationMs: numeric(throttler.blockDuration ?? ttlMs, 'blockDuration'),
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
        limit: `${this.headerPrefix}-Limit${suffix}`,
        remaining: `${this.headerPrefix}-Remaining${suffix}`,
        reset: `${this.headerPrefix}-Reset${suffix}`,
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
