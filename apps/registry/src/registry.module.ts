import type { PlatformConfig } from '@app/config';
import { PlatformModule } from '@app/platform';
import { QueueName, QueuesModule } from '@app/queues';
import { Module, type DynamicModule } from '@nestjs/common';
import { CatalogController } from './catalog/catalog.controller.js';
import { DiscoveryCache } from './discovery/discovery-cache.js';
import { DiscoveryService } from './discovery/discovery.service.js';
import { AgentProbeWorker } from './probes/agent-probe.worker.js';
import { RegistrationsController } from './registrations/registrations.controller.js';
import { RegistrationsService } from './registrations/registrations.service.js';

/** Agent Card registry: registration, heartbeats, health probes and discovery. */
@Module({})
export class RegistryModule {
  static register(config: PlatformConfig): DynamicModule {
    return {
      module: RegistryModule,
      imports: [PlatformModule.forRoot(config), QueuesModule.register(QueueName.AgentProbes)],
      controllers: [RegistrationsController, CatalogController],
      providers: [RegistrationsService, DiscoveryService, DiscoveryCache, AgentProbeWorker],
    };
  }
}
