import {
  Injectable,
  ServiceUnavailableException,
  UnauthorizedException,
  type CanActivate,
  type ExecutionContext,
} from '@nestjs/common';
import { Reflector } from '@nestjs/core';
import { ApiKeyService } from './api-key.service.js';
import type { AuthContext, AuthenticatedRequest } from './auth-context.js';
import { PerRoute } from './per-route.js';
import { IS_PUBLIC } from './public.decorator.js';

/** Reads the key from `Authorization: Bearer <key>` or `X-API-Key: <key>`. */
export function readApiKey(headers: AuthenticatedRequest['headers']): string | undefined {
  const authorization = headers.authorization;
  if (typeof authorization === 'string') {
    const match = /^Bearer\s+(\S+)\s*$/i.exec(authorization);
    if (match) return match[1];
  }
  const apiKey = headers['x-api-key'];
  return typeof apiKey === 'string' && apiKey.length > 0 ? apiKey.trim() : undefined;
}

/** Every route needs a valid key unless it is {@link Public}; sets `request.auth`. */
@Injectable()
export class ApiKeyGuard implements CanActivate {
  /** `@Public()`, read once per route. */
  private readonly publicRoutes = new PerRoute(
    (targets) => this.reflector.getAllAndOverride<boolean | undefined>(IS_PUBLIC, targets) === true,
  );

  constructor(
    private readonly reflector: Reflector,
    private readonly apiKeys: ApiKeyService,
  ) {}

  canActivate(context: ExecutionContext): boolean | Promise<boolean> {
    if (context.getType() !== 'http') return true;
    if (this.publicRoutes.of(context)) return true;

    const request = context.switchToHttp().getRequest<AuthenticatedRequest>();
    const key = readApiKey(request.headers);
    if (key === undefined)
      throw new UnauthorizedException(
        'Missing API key: send Authorization: Bearer <key> or X-API-Key',
      );
    // A key seen in the last seconds is answered at once, without a turn of the event loop.
    const cached = this.apiKeys.cached(key);
    if (cached !== undefined) return this.admit(request, cached ?? undefined);
    return this.authenticate(request, key);
  }

  private async authenticate(request: AuthenticatedRequest, key: string): Promise<boolean> {
    let auth;
    try {
      auth = await this.apiKeys.authenticate(key);
    } catch {
      throw new ServiceUnavailableException(
        'Credentials cannot be checked right now; retry shortly',
      );
    }
    return this.admit(request, auth);
  }

  private admit(request: AuthenticatedRequest, auth: AuthContext | undefined): true {
    if (auth === undefined) throw new UnauthorizedException('Invalid or revoked API key');
    request.auth = auth;
    return true;
  }
}
