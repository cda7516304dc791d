import { PlatformConfigModule, type PlatformConfig } from '@app/config';
import { HealthModule } from '@app/health';
import { MetricsModule } from '@app/metrics';
import { PersistenceModule } from '@app/persistence';
import { QueuesModule } from '@app/queues';
import { RedisModule } from '@app/redis';
import { ApiKeyGuard, SecurityModule } from '@app/security';
import { TenantThrottlerGuard, ThrottlingModule } from '@app/throttling';
import { Module, type DynamicModule } from '@nestjs/common';
import { APP_FILTER, APP_GUARD, APP_PIPE } from '@nestjs/core';
import { ProblemDetailsFilter } from './problem-details.filter.js';
import { NulCheckingJsonParser } from './nul-characters.js';
import { PlatformValidationPipe } from './validation.pipe.js';

/**
 * Everything an app of the platform stands on: validated config,
 * PostgreSQL, Redis, queues, health, metrics, authentication and rate limits.
 * Guards run in the order listed: authentication first, so that rate limits
 * are counted per tenant.
 */
@Module({})
export class PlatformModule {
  static forRoot(config: PlatformConfig): DynamicModule {
    return {
      module: PlatformModule,
      imports: [
        PlatformConfigModule.forRoot(config),
        PersistenceModule,
        RedisModule,
        QueuesModule.forRoot(),
        HealthModule,
        MetricsModule,
        SecurityModule,
        ThrottlingModule,
      ],
      providers: [
        { provide: APP_GUARD, useExisting: ApiKeyGuard },
        { provide: APP_GUARD, useExisting: TenantThrottlerGuard },
        { provide: APP_FILTER, useClass: ProblemDetailsFilter },
        { provide: APP_PIPE, useValue: new PlatformValidationPipe() },
        NulCheckingJsonParser,
      ],
    };
  }
}
