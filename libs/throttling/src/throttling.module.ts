import type { PlatformConfigService } from '@app/config';
import { Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ThrottlerModule } from '@nestjs/throttler';
import { RedisThrottlerStorage } from './redis-throttler.storage.js';
import { TenantThrottlerGuard } from './tenant-throttler.guard.js';
import { DEFAULT_THROTTLER, MESSAGE_THROTTLER } from './throttle-names.js';

@Module({ providers: [RedisThrottlerStorage], exports: [RedisThrottlerStorage] })
class ThrottlerStorageModule {}

/** Redis-backed per-tenant rate limits; the platform module installs the guard after authentication. */
@Module({
  imports: [
    ThrottlerModule.forRootAsync({
      imports: [ThrottlerStorageModule],
      inject: [ConfigService, RedisThrottlerStorage],
      useFactory: (config: PlatformConfigService, storage: RedisThrottlerStorage) => {
        const throttle = config.get('throttle', { infer: true });
        return {
          storage,
          throttlers: [
            { name: DEFAULT_THROTTLER, ttl: throttle.ttlMs, limit: throttle.defaultLimit },
            { name: MESSAGE_THROTTLER, ttl: throttle.ttlMs, limit: throttle.messageLimit },
          ],
        };
      },
    }),
  ],
  providers: [TenantThrottlerGuard],
  exports: [ThrottlerModule, TenantThrottlerGuard],
})
export class ThrottlingModule {}
