import { Logger, type OnApplicationBootstrap, type OnModuleInit } from '@nestjs/common';
import { WorkerHost } from '@nestjs/bullmq';
import { UnrecoverableError, type Job, type Queue } from 'bullmq';
import type { JobPayloads } from './job-payloads.js';
import { jobNamesOf, type JobName, type JobsOf, type QueueName } from './queue-names.js';

export type JobHandler<J extends JobName> = (
  payload: JobPayloads[J],
  job: Job<JobPayloads[J]>,
) => Promise<unknown>;

/** One handler per job name of the queue: a missing one does not compile. */
export type JobHandlers<Q extends QueueName> = { readonly [J in JobsOf<Q>]: JobHandler<J> };

const claimedQueues = new Set<QueueName>();
/** How often a repeated job's scheduler is put back, should Redis have lost it. */
const RESCHEDULE_INTERVAL_MS = 60_000;

/**
 * Base of every processor: it dispatches by job name and lets errors through,
 * so BullMQ retries with the job's backoff and keeps the failure after the last
 * attempt. A handler that wants no retry throws `UnrecoverableError`.
 *
 * ```ts
 * @Processor(QueueName.AgentProbes)
 * export class AgentProbeWorker extends QueueWorker<QueueName.AgentProbes> { ... }
 * ```
 */
export abstract class QueueWorker<Q extends QueueName>
  extends WorkerHost
  implements OnModuleInit, OnApplicationBootstrap
{
  protected readonly logger = new Logger(this.constructor.name);
  protected abstract readonly queue: Q;
  protected abstract readonly handlers: JobHandlers<Q>;
  private readonly reschedulers: NodeJS.Timeout[] = [];

  onModuleInit(): void {
    if (claimedQueues.has(this.queue)) {
      throw new Error(`Queue "${this.queue}" has two processors in this process`);
    }
    const missing = jobNamesOf(this.queue).filter((name) => !(name in this.handlers));
    if (missing.length > 0) {
      throw new Error(`Processor of "${this.queue}" has no handler for: ${missing.join(', ')}`);
    }
    claimedQueues.add(this.queue);
  }

  /** Worker-level errors (a lost lock, a job whose keys vanished in a Redis flush) are logged, not thrown. */
  onApplicationBootstrap(): void | Promise<void> {
    this.worker.on('error', (error: Error) => {
      this.logger.warn(`Worker of "${this.queue}": ${error.message}`);
    });
  }

  async process(job: Job): Promise<unknown> {
    const handler = (this.handlers as unknown as Record<string, JobHandler<JobName> | undefined>)[
      job.name
    ];
    if (handler === undefined) {
      throw new UnrecoverableError(`No handler for job "${job.name}" on queue "${this.queue}"`);
    }
    return handler(job.data as JobPayloads[JobName], job as Job<JobPayloads[JobName]>);
  }

  /**
   * Runs job `name` every `everyMs` on `queue` (this worker's), once across
   * all replicas: a BullMQ job scheduler, upserted as soon as Redis answers
   * (start-up never waits for it: an app without Redis still starts and says
   * so on /ready). Redis is transport, not truth: should it lose the
   * scheduler (flushed, restarted without persistence), the scheduler is put
   * back within a minute.
   */
  protected repeat<J extends JobsOf<Q>>(
    queue: Queue,
    schedulerId: string,
    everyMs: number,
    name: J,
    data: () => JobPayloads[J],
  ): void {
    const upsert = () =>
      void queue
        .upsertJobScheduler(
          schedulerId,
          { every: everyMs },
          { name, data: data(), opts: { removeOnComplete: true, removeOnFail: 100 } },
        )
        .catch((error: Error) =>
          this.logger.warn(`Scheduling "${name}" on "${this.queue}" failed: ${error.message}`),
        );
    upsert();
    const rescheduler = setInterval(upsert, RESCHEDULE_INTERVAL_MS);
    rescheduler.unref();
    this.reschedulers.push(rescheduler);
  }

  /** Stops rescheduling; lets a later module instance (tests, hot reload) claim the queue again. */
  onApplicationShutdown(): void {
    for (const rescheduler of this.reschedulers.splice(0)) clearInterval(rescheduler);
    claimedQueues.delete(this.queue);
  }
}
