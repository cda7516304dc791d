import { JobName, QueueName, QueueWorker, type JobHandlers } from '@app/queues';
import { Processor } from '@nestjs/bullmq';
import { RunsService } from './runs.service.js';

/** Executes workflow steps, one job per attempt. */
// A 10 s lock (renewed every 5 s) lets a dead worker's step be noticed within seconds.
@Processor(QueueName.WorkflowSteps, {
  concurrency: 32,
  lockDuration: 10_000,
  stalledInterval: 5_000,
})
export class StepWorker extends QueueWorker<QueueName.WorkflowSteps> {
  protected readonly queue = QueueName.WorkflowSteps;
  protected readonly handlers: JobHandlers<QueueName.WorkflowSteps> = {
    [JobName.RunWorkflowStep]: ({ tenantId, runId, stepId, attempt }) =>
      this.runs.executeStep(tenantId, runId, stepId, attempt),
  };

  constructor(private readonly runs: RunsService) {
    super();
  }
}
