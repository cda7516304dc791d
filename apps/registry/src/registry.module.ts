import { WorkerMode, type PlatformConfig } from '@app/config';
import { PlatformModule } from '@app/platform';
import { QueueName, QueuesModule } from '@app/queues';
import { Module, type DynamicModule } from '@nestjs/common';
import { CatalogController } from './catalog/catalog.controller.js';
import { DiscoveryCache } from './discovery/discovery-cache.js';
import { DiscoveryService } from './discovery/discovery.service.js';
import { AgentProbeWorker } from './probes/agent-probe.worker.js';
import { RegistryHealthReporter } from './probes/registry-health.reporter.js';
import { RegistrationsController } from './registrations/registrations.controller.js';
import { RegistrationsService } from './registrations/registrations.service.js';

/** Agent Card registry: registration, heartbeats, health probes and discovery. */
@Module({})
export class RegistryModule {
  static register(config: PlatformConfig): DynamicModule {
    return {
      module: RegistryModule,
      imports: [PlatformModule.forRoot(config), QueuesModule.register(QueueName.AgentProbes)],
      // WORKER_MODE=http leaves the probes to worker processes; WORKER_MODE=worker serves no API.
      controllers:
        config.app.workerMode === WorkerMode.Worker
          ? []
          : [RegistrationsController, CatalogController],
      providers: [
        RegistrationsService,
        DiscoveryService,
        DiscoveryCache,
        RegistryHealthReporter,
        ...(config.app.workerMode === WorkerMode.Http ? [] : [AgentProbeWorker]),
      ],
    };
  }
}
