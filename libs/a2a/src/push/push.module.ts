import { QueueName, QueuesModule } from '@app/queues';
import { Module, type DynamicModule } from '@nestjs/common';
import { JwksController } from '../signing/jwks.controller.js';
import { PlatformKeys } from '../signing/platform-keys.js';
import { PushDeliveriesController } from './push-deliveries.controller.js';
import { A2aRetention } from '../stores/a2a-retention.js';
import { PushDeliveryWorker } from './push-delivery.worker.js';

/**
 * What every app serving A2A agents has once, at its root whatever the agents'
 * mount: the signing key and its JWKS, the push delivery queue, its worker
 * and the retention sweep (unless this process serves HTTP only) and the
 * admin view of deliveries.
 */
@Module({})
export class A2aPushModule {
  static register(options: { worker: boolean; api?: boolean }): DynamicModule {
    const queues = QueuesModule.register(QueueName.PushDeliveries);
    return {
      module: A2aPushModule,
      imports: [queues],
      controllers: options.api === false ? [] : [JwksController, PushDeliveriesController],
      providers: [PlatformKeys, ...(options.worker ? [PushDeliveryWorker, A2aRetention] : [])],
      exports: [PlatformKeys, queues],
    };
  }
}
