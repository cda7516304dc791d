import { Injectable } from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bullmq';
import type { Job, JobsOptions, Queue } from 'bullmq';
import { JOB_OPTIONS } from './job-options.js';
import type { JobPayloads } from './job-payloads.js';
import { JOB_QUEUES, type JobName } from './queue-names.js';

/** What a caller may change per job; everything else comes from the named job options. */
export type EnqueueOptions = Pick<
  JobsOptions,
  'jobId' | 'delay' | 'priority' | 'attempts' | 'backoff' | 'removeOnComplete' | 'removeOnFail'
>;

/**
 * The one way to put a job on a queue: the payload type follows the job name,
 * the queue and the default options follow from it, callers never see a raw Queue.
 */
@Injectable()
export class JobProducer {
  constructor(private readonly moduleRef: ModuleRef) {}

  async enqueue<J extends JobName>(
    name: J,
    payload: JobPayloads[J],
    options: EnqueueOptions = {},
  ): Promise<Job<JobPayloads[J]>> {
    return this.queueFor(name).add(name, payload, { ...JOB_OPTIONS[name], ...options }) as Promise<
      Job<JobPayloads[J]>
    >;
  }

  /** Adds many jobs of one name in one round trip (one job: without a MULTI transaction around it). */
  async enqueueBulk<J extends JobName>(
    name: J,
    jobs: ReadonlyArray<{ payload: JobPayloads[J]; options?: EnqueueOptions }>,
  ): Promise<Array<Job<JobPayloads[J]>>> {
    if (jobs.length === 1) return [await this.enqueue(name, jobs[0].payload, jobs[0].options)];
    const added = await this.queueFor(name).addBulk(
      jobs.map(({ payload, options }) => ({
        name,
        data: payload,
        opts: { ...JOB_OPTIONS[name], ...options },
      })),
    );
    return added as Array<Job<JobPayloads[J]>>;
  }

  private queueFor(name: JobName): Queue {
    const queueName = JOB_QUEUES[name];
    try {
      return this.moduleRef.get<Queue>(getQueueToken(queueName), { strict: false });
    } catch {
      throw new Error(`Queue "${queueName}" for job "${name}" is not registered in this app`);
    }
  }
}
