import type { PlatformConfig } from '@app/config';
import { PlatformModule } from '@app/platform';
import { QueueName, QueuesModule } from '@app/queues';
import { Module, type DynamicModule } from '@nestjs/common';
import { RunsController } from './runs/runs.controller.js';
import { RunsService } from './runs/runs.service.js';
import { StepWorker } from './runs/step.worker.js';
import { WorkflowsModule } from './workflows/workflows.module.js';

/** Runs multi-agent workflows as BullMQ jobs with state in PostgreSQL. */
@Module({})
export class OrchestratorModule {
  static register(config: PlatformConfig): DynamicModule {
    return {
      module: OrchestratorModule,
      imports: [
        PlatformModule.forRoot(config),
        QueuesModule.register(QueueName.WorkflowSteps),
        WorkflowsModule,
      ],
      controllers: [RunsController],
      providers: [RunsService, StepWorker],
    };
  }
}
