import { createParamDecorator, UnauthorizedException, type ExecutionContext } from '@nestjs/common';
import type { AuthContext, AuthenticatedRequest } from './auth-context.js';

/** The caller of a non-public route: `handler(@CurrentAuth() auth: AuthContext)`. */
export const CurrentAuth = createParamDecorator(
  (_: unknown, context: ExecutionContext): AuthContext => {
    const auth = context.switchToHttp().getRequest<AuthenticatedRequest>().auth;
    if (auth === undefined) throw new UnauthorizedException('No credentials on a protected route');
    return auth;
  },
);
