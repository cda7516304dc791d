import { queryRows } from '@app/persistence';
import { JobName, JobProducer, QueueName } from '@app/queues';
import { InjectQueue } from '@nestjs/bullmq';
import { REDIS_CLIENT } from '@app/redis';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Queue } from 'bullmq';
import type { Redis } from 'ioredis';
import { DataSource } from 'typeorm';
import { RunsService } from './runs.service.js';

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
 * longer active (its worker died) is taken over by a new attempt. A
 * non-idempotent step is not simply called again: the attempt first asks the
 * agent for the task of the interrupted call (see RunsService.executeStep).
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
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly runs: RunsService,
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

  /**
   * One pass; exposed for tests and operators. Returns how many steps it
   * queued again or took over, and how many runs it finished (all their steps
   * completed, but the worker of the last one stopped before completing the run).
   */
  async reconcile(): Promise<{ requeued: number; takenOver: number; finished: number }> {
    const unfinished = await queryRows<{ id: string }>(
      this.dataSource,
      `SELECT id FROM workflow_runs
       WHERE status = 'running' AND remaining_steps = 0`,
    );
    for (const run of unfinished) await this.runs.finishRun(run.id);

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
    const healthy = await this.withLiveJobs(steps);
    for (const [index, step] of steps.entries()) {
      if (healthy[index]) continue;
      if (step.status === 'ready') {
        if (await this.ensureJob(step, step.attempt + 1)) requeued++;
        continue;
      }
      // Running: is its job still held by a live worker?
      const job = await this.queue.getJob(`${step.run_id}:${step.step_id}:${step.attempt}`);
      if (job !== undefined && (await job.isActive())) continue;
      // Taken over: the next attempt runs it again, or, for a non-idempotent step whose
      // call may have reached its agent, asks the agent for that call's task first.
      const [reset] = await queryRows<{ step_id: string }>(
        this.dataSource,
        `UPDATE step_runs SET status = 'ready', error = $4
         WHERE run_id = $1 AND step_id = $2 AND status = 'running' AND attempt = $3 RETURNING step_id`,
        [
          step.run_id,
          step.step_id,
          step.attempt,
          step.idempotent
            ? 'The worker running this step stopped; it runs again'
            : 'The worker running this step stopped; its call is reconciled with the agent',
        ],
      );
      if (reset !== undefined && (await this.ensureJob(step, step.attempt + 1))) takenOver++;
    }
    if (requeued + takenOver + unfinished.length > 0) {
      this.logger.log(
        `Reconciled runs: ${requeued} step(s) queued again, ${takenOver} taken over, ${unfinished.length} run(s) finished`,
      );
    }
    return { requeued, takenOver, finished: unfinished.length };
  }

  /**
   * The common case in one round trip: a ready step whose job exists and has
   * not finished, a running step whose job is locked by a live worker. Only
   * the others get the closer (and dearer) look. A ready step's job can have
   * finished: its claim found the step not ready, or the database lost the
   * claim in a crash (claims commit asynchronously, see RunsService).
   */
  private async withLiveJobs(steps: readonly StepRef[]): Promise<boolean[]> {
    if (steps.length === 0) return [];
    const pipeline = this.redis.pipeline();
    for (const step of steps) {
      const jobKey = this.queue.toKey(
        `${step.run_id}:${step.step_id}:${step.status === 'ready' ? step.attempt + 1 : step.attempt}`,
      );
      if (step.status === 'ready') pipeline.hmget(jobKey, 'timestamp', 'finishedOn');
      else pipeline.exists(`${jobKey}:lock`);
    }
    const results = (await pipeline.exec()) ?? [];
    return steps.map((_, index) => {
      const [error, found] = results[index] ?? [null, null];
      if (error !== null) return false;
      if (Array.isArray(found)) return found[0] !== null && found[1] === null;
      return found === 1;
    });
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
