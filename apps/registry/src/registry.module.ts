import type { PlatformConfig } from '@app/config';
import { PlatformModule } from '@app/platform';
import { QueueName, QueuesModule } from '@app/queues';
import { Module, type DynamicModule } from '@nestjs/common';

/** Agent Card registry: registration, heartbeats, health probes and discovery. */
@Module({})
export class RegistryModule {
  static register(config: PlatformConfig): DynamicModule {
    return {
      module: RegistryModule,
      imports: [PlatformModule.forRoot(config), QueuesModule.register(QueueName.AgentProbes)],
    };
  }
}
