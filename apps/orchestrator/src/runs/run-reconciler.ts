import { queryRows } from '@app/persistence';
import { JobName, JobProducer, QueueName } from '@app/queues';
import { InjectQueue } from '@nestjs/bullmq';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Queue } from 'bullmq';
import { DataSource } from 'typeorm';

const INTERVAL_MS = 2_000;

interface StepRef {
  run_id: string;
  tenant_id: string;
  step_id: string;
  status: string;
  attempt: number;
  idempotent: boolean;
}

/**
 * PostgreSQL is the source of truth, the queue only carries work: this loop
 * makes the queue agree with it. A ready step whose job is gone (Redis
 * flushed or restarted) is queued again; a running step whose job is no
 * longer active (its worker died) is taken over: run again when the step is
 * idempotent, failed when it is not, so that it is never called twice.
 */
@Injectable()
export class RunReconciler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunReconciler.name);
  private timer?: NodeJS.Timeout;
  private running = false;

  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: JobProducer,
    @InjectQueue(QueueName.WorkflowSteps) private readonly queue: Queue,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.tick(), INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.running) return;
    this.running = true;
    try {
      await this.reconcile();
    } catch (error) {
      this.logger.warn(`Reconciling runs failed: ${(error as Error).message}`);
    } finally {
      this.running = false;
    }
  }

  /** One pass; exposed for tests and operators. Returns how many steps it queued again or took over. */
  async reconcile(): Promise<{ requeued: number; takenOver: number; failed: number }> {
    const steps = await queryRows<StepRef>(
      this.dataSource,
      `SELECT s.run_id, s.tenant_id, s.step_id, s.status, s.attempt,
              COALESCE((SELECT (step->>'idempotent')::boolean FROM jsonb_array_elements(r.definition->'steps') step
                        WHERE step->>'id' = s.step_id), true) AS idempotent
       FROM step_runs s JOIN workflow_runs r ON r.id = s.run_id
       WHERE r.status = 'running' AND s.status IN ('ready', 'running')`,
    );
    let requeued = 0;
    let takenOver = 0;
    let failed = 0;
    for (const step of steps) {
      if (step.status === 'ready') {
        if (await this.ensureJob(step, step.attempt + 1)) requeued++;
        continue;
      }
      // Running: is its job still held by a live worker?
      const job = await this.queue.getJob(`${step.run_id}:${step.step_id}:${step.attempt}`);
      if (job !== undefined && (await job.isActive())) continue;
      if (step.idempotent) {
        const [reset] = await queryRows<{ step_id: string }>(
          this.dataSource,
          `UPDATE step_runs SET status = 'ready', error = 'The worker running this step stopped; it runs again'
           WHERE run_id = $1 AND step_id = $2 AND status = 'running' AND attempt = $3 RETURNING step_id`,
          [step.run_id, step.step_id, step.attempt],
        );
        if (reset !== undefined && (await this.ensureJob(step, step.attempt + 1))) takenOver++;
      } else {
        await this.dataSource.transaction(async (manager) => {
          const [lost] = await queryRows<{ step_id: string }>(
            manager,
            `UPDATE step_runs SET status = 'failed', completed_at = now(),
               error = 'The worker running this non-idempotent step stopped; it is not called again'
             WHERE run_id = $1 AND step_id = $2 AND status = 'running' AND attempt = $3 RETURNING step_id`,
            [step.run_id, step.step_id, step.attempt],
          );
          if (lost === undefined) return;
          await manager.query(
            `UPDATE step_runs SET status = 'canceled' WHERE run_id = $1 AND status IN ('pending', 'ready')`,
            [step.run_id],
          );
          await manager.query(
            `UPDATE workflow_runs SET status = 'failed', error = $2, completed_at = now() WHERE id = $1 AND status = 'running'`,
            [step.run_id, `Step "${step.step_id}" was interrupted and is not idempotent`],
          );
          failed++;
        });
      }
    }
    if (requeued + takenOver + failed > 0) {
      this.logger.log(
        `Reconciled runs: ${requeued} step(s) queued again, ${takenOver} taken over, ${failed} failed`,
      );
    }
    return { requeued, takenOver, failed };
  }

  /** Makes sure a job for this attempt exists and can still run; true when one was added. */
  private async ensureJob(step: StepRef, attempt: number): Promise<boolean> {
    const jobId = `${step.run_id}:${step.step_id}:${attempt}`;
    const existing = await this.queue.getJob(jobId);
    if (existing !== undefined) {
      const state = await existing.getState();
      if (state !== 'completed' && state !== 'failed') return false;
      await existing.remove().catch(() => undefined);
    }
    await this.producer.enqueue(
      JobName.RunWorkflowStep,
      { tenantId: step.tenant_id, runId: step.run_id, stepId: step.step_id, attempt },
      { jobId },
    );
    return true;
  }
}
