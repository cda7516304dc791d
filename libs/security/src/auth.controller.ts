import { Controller, Get } from '@nestjs/common';
import type { AuthContext } from './auth-context.js';
import { CurrentAuth } from './current-auth.decorator.js';

@Controller('auth')
export class AuthController {
  /** Tells a caller which tenant and role its key stands for. */
  @Get('whoami')
  whoami(@CurrentAuth() auth: AuthContext): AuthContext {
    return auth;
  }
}
