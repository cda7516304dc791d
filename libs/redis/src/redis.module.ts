import type { PlatformConfigService } from '@app/config';
import {
  Global,
  Inject,
  Injectable,
  Logger,
  Module,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { Redis } from 'ioredis';
import { RedisHealthIndicator } from './redis.health.js';
import { buildRedisOptions } from './redis-options.js';
import { REDIS_CLIENT } from './redis.tokens.js';

@Injectable()
class RedisClientCloser implements OnApplicationShutdown {
  constructor(@Inject(REDIS_CLIENT) private readonly client: Redis) {}

  async onApplicationShutdown(): Promise<void> {
    await this.client.quit().catch(() => this.client.disconnect());
  }
}

@Global()
@Module({
  imports: [TerminusModule],
  providers: [
    {
      provide: REDIS_CLIENT,
      inject: [ConfigService],
      useFactory: (config: PlatformConfigService) => {
        const logger = new Logger('Redis');
        // Without an offline queue, a command fails at once while Redis is away
        // instead of piling up; callers decide whether to fail open or closed.
        const client = new Redis(
          buildRedisOptions(config.get('redis', { infer: true }), {
            enableOfflineQueue: false,
            // Commands issued in the same tick (rate limits, caches) share one round trip.
            enableAutoPipelining: true,
            maxRetriesPerRequest: 1,
            connectionName: `a2a-${config.get('app', { infer: true }).name}`,
          }),
        );
        let reported = false;
        client.on('error', (error: Error) => {
          if (!reported) logger.warn(`Redis unavailable: ${error.message}`);
          reported = true;
        });
        client.on('ready', () => {
          if (reported) logger.log('Redis available again');
          reported = false;
        });
        return client;
      },
    },
    RedisClientCloser,
    RedisHealthIndicator,
  ],
  exports: [REDIS_CLIENT, RedisHealthIndicator],
})
export class RedisModule {}
