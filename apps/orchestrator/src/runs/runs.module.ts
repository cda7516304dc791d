import { QueueName, QueuesModule } from '@app/queues';
import { Module, type DynamicModule } from '@nestjs/common';
import { WorkflowsModule } from '../workflows/workflows.module.js';
import { RunReconciler } from './run-reconciler.js';
import { RunsController } from './runs.controller.js';
import { RunsService } from './runs.service.js';
import { StepWorker } from './step.worker.js';

@Module({})
export class RunsModule {
  /**
   * Runs: the `/workflows` and `/runs` API when `api` is set, the step worker
   * and the reconciler when `workers` is set (WORKER_MODE picks them).
   */
  static register(options: { api: boolean; workers: boolean }): DynamicModule {
    const workflows = WorkflowsModule.register({ api: options.api });
    return {
      module: RunsModule,
      imports: [workflows, QueuesModule.register(QueueName.WorkflowSteps)],
      controllers: options.api ? [RunsController] : [],
      providers: [RunsService, ...(options.workers ? [StepWorker, RunReconciler] : [])],
      exports: [RunsService, workflows],
    };
  }
}
