import { Module } from '@nestjs/common';
import { ApiKeyGuard } from './api-key.guard.js';
import { ApiKeyService } from './api-key.service.js';
import { AuthController } from './auth.controller.js';

/** API keys (stored hashed, tied to a tenant) and the guard that resolves them. */
@Module({
  controllers: [AuthController],
  providers: [ApiKeyService, ApiKeyGuard],
  exports: [ApiKeyService, ApiKeyGuard],
})
export class SecurityModule {}
