import type { PlatformConfigService } from '@app/config';
import { buildRedisOptions } from '@app/redis';
import { BullModule } from '@nestjs/bullmq';
import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { ConnectionOptions } from 'bullmq';
import { JobProducer } from './job-producer.service.js';
import { QueueDepthReporter } from './queue-depth.reporter.js';
import type { QueueName } from './queue-names.js';

/**
 * BullMQ on the app's Redis, with the key prefix from config so that
 * environments and test runs sharing one Redis never see each other's jobs.
 */
@Module({})
export class QueuesModule {
  static forRoot(): DynamicModule {
    return {
      module: QueuesModule,
      global: true,
      imports: [
        BullModule.forRootAsync({
          inject: [ConfigService],
          useFactory: (config: PlatformConfigService) => {
            const redis = config.get('redis', { infer: true });
            return {
              prefix: `${redis.keyPrefix}:bull`,
              // Workers block on Redis: they must wait for it, never give up a command.
              connection: buildRedisOptions(redis, {
                maxRetriesPerRequest: null,
              }) as ConnectionOptions,
            };
          },
        }),
      ],
      exports: [BullModule],
    };
  }

  /** Registers the queues an app produces to or consumes from, and a producer for them. */
  static register(...queues: QueueName[]): DynamicModule {
    const registered = BullModule.registerQueue(...queues.map((name) => ({ name })));
    return {
      module: QueuesModule,
      imports: [registered],
      providers: [JobProducer, QueueDepthReporter],
      exports: [registered, JobProducer],
    };
  }
}
