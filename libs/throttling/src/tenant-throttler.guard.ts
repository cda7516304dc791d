import { Injectable, type ExecutionContext } from '@nestjs/common';
import {
  ThrottlerGuard,
  type ThrottlerLimitDetail,
  type ThrottlerRequest,
} from '@nestjs/throttler';
import {
  IS_MESSAGE_ROUTE,
  MESSAGE_THROTTLER,
  type MessageSendPredicate,
} from './throttle-names.js';
import { TooManyRequestsException } from './too-many-requests.exception.js';

type ThrottledRequest = { auth?: { tenantId: string }; ip?: string };

/**
 * Budgets are per tenant (per client address before authentication) and span
 * all routes, so a tenant cannot multiply its budget by spreading requests.
 */
@Injectable()
export class TenantThrottlerGuard extends ThrottlerGuard {
  protected override getTracker(req: Record<string, unknown>): Promise<string> {
    const request = req as ThrottledRequest;
    return Promise.resolve(
      request.auth ? `tenant:${request.auth.tenantId}` : `ip:${request.ip ?? 'unknown'}`,
    );
  }

  protected override generateKey(
    _context: ExecutionContext,
    tracker: string,
    name: string,
  ): string {
    return `${name}:${tracker}`;
  }

  protected override async handleRequest(request: ThrottlerRequest): Promise<boolean> {
    if (request.throttler.name === MESSAGE_THROTTLER) {
      const messageRoute = this.reflector.getAllAndOverride<
        boolean | MessageSendPredicate | undefined
      >(IS_MESSAGE_ROUTE, [request.context.getHandler(), request.context.getClass()]);
      const counts =
        typeof messageRoute === 'function'
          ? messageRoute(
              request.context.switchToHttp().getRequest<{ body?: unknown; params?: unknown }>(),
            )
          : messageRoute === true;
      if (!counts) return true;
    }
    return super.handleRequest(request);
  }

  protected override throwThrottlingException(
    _context: ExecutionContext,
    detail: ThrottlerLimitDetail,
  ): Promise<void> {
    return Promise.reject(new TooManyRequestsException(Math.max(1, detail.timeToBlockExpire)));
  }
}
