import { QueueName, QueuesModule } from '@app/queues';
import { Module } from '@nestjs/common';
import { WorkflowsModule } from '../workflows/workflows.module.js';
import { RunReconciler } from './run-reconciler.js';
import { RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';
import { StepWorker } from './step.worker.js';

@Module({
  imports: [WorkflowsModule, QueuesModule.register(QueueName.WorkflowSteps)],
  controllers: [RunsController],
  providers: [RunsService, StepWorker, RunReconciler],
  exports: [RunsService, WorkflowsModule],
})
export class RunsModule {}
