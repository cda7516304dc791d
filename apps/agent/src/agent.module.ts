import type { PlatformConfig } from '@app/config';
import { PlatformModule } from '@app/platform';
import { QueueName, QueuesModule } from '@app/queues';
import { Module, type DynamicModule } from '@nestjs/common';

/** Hosts agent modules and serves each one over A2A. */
@Module({})
export class AgentModule {
  static register(config: PlatformConfig): DynamicModule {
    return {
      module: AgentModule,
      imports: [PlatformModule.forRoot(config), QueuesModule.register(QueueName.PushDeliveries)],
    };
  }
}
