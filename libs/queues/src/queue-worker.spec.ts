import { PlatformConfigModule } from '@app/config';
import { RedisModule } from '@app/redis';
import { testConfig, waitFor } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { getQueueToken, Processor } from '@nestjs/bullmq';
import { Test, type TestingModule } from '@nestjs/testing';
import type { Job, Queue } from 'bullmq';
import { randomUUID } from 'node:crypto';
import { JobProducer } from './job-producer.service.js';
import type { JobPayloads } from './job-payloads.js';
import { JobName, QueueName } from './queue-names.js';
import { QueueWorker, type JobHandlers } from './queue-worker.js';
import { QueuesModule } from './queues.module.js';

/** Fails as many times as the registration id says ("fail-2"), or always ("fail-always"). */
@Processor(QueueName.AgentProbes)
class FlakyProbeWorker extends QueueWorker<QueueName.AgentProbes> {
  readonly calls: string[] = [];
  protected readonly queue = QueueName.AgentProbes;
  protected readonly handlers: JobHandlers<QueueName.AgentProbes> = {
    [JobName.ProbeAgentInstance]: async (payload, job) => {
      this.calls.push(`${payload.registrationId}#${job.attemptsMade + 1}`);
      const failures = payload.registrationId.match(/^fail-(\d+|always)/)?.[1];
      if (
        failures === 'always' ||
        (failures !== undefined && job.attemptsMade < Number(failures))
      ) {
        throw new Error(`probe of ${payload.registrationId} failed`);
      }
      return Promise.resolve({ probed: payload.registrationId });
    },
    [JobName.ExpireHeartbeats]: () => Promise.resolve(0),
  };
}

describe('queues (real Redis)', () => {
  let moduleRef: TestingModule;
  let producer: JobProducer;
  let queue: Queue;
  let worker: FlakyProbeWorker;
  const fastRetries = {
    attempts: 3,
    backoff: { type: 'fixed', delay: 20 },
    removeOnComplete: false,
  } as const;

  beforeAll(async () => {
    const config = testConfig('registry', {
      REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-queues`,
    });
    moduleRef = await Test.createTestingModule({
      imports: [
        PlatformConfigModule.forRoot(config),
        RedisModule,
        QueuesModule.forRoot(),
        QueuesModule.register(QueueName.AgentProbes),
      ],
      providers: [FlakyProbeWorker],
    }).compile();
    await moduleRef.init();
    producer = moduleRef.get(JobProducer);
    queue = moduleRef.get<Queue>(getQueueToken(QueueName.AgentProbes));
    worker = moduleRef.get(FlakyProbeWorker);
  });

  afterAll(async () => {
    await worker.worker.close();
    await queue.obliterate({ force: true });
    await moduleRef.close();
  });

  const settled = async (job: Job) => {
    await waitFor(async () => ['completed', 'failed'].includes(await job.getState()), {
      what: `job ${job.id}`,
    });
    return (await queue.getJob(job.id!))!;
  };

  const payload = (registrationId: string): JobPayloads[JobName.ProbeAgentInstance] => ({
    tenantId: 'default',
    registrationId,
  });

  it('a job whose handler throws is retried, and completes when an attempt succeeds', async () => {
    const id = `fail-2-${randomUUID()}`;
    const job = await producer.enqueue(JobName.ProbeAgentInstance, payload(id), fastRetries);
    const done = await settled(job);
    expect(await done.getState()).toBe('completed');
    expect(done.attemptsMade).toBe(3);
    expect(done.returnvalue).toEqual({ probed: id });
    expect(worker.calls.filter((call) => call.startsWith(id))).toEqual([
      `${id}#1`,
      `${id}#2`,
      `${id}#3`,
    ]);
  });

  it('a job that always throws ends failed after its attempts, with the error kept', async () => {
    const id = `fail-always-${randomUUID()}`;
    const job = await producer.enqueue(JobName.ProbeAgentInstance, payload(id), fastRetries);
    const done = await settled(job);
    expect(await done.getState()).toBe('failed');
    expect(done.attemptsMade).toBe(3);
    expect(done.failedReason).toBe(`probe of ${id} failed`);
    expect(worker.calls.filter((call) => call.startsWith(id))).toHaveLength(3);
  });

  it('a deterministic job id makes a second enqueue a no-op', async () => {
    const jobId = `probe-${randomUUID()}`;
    const first = await producer.enqueue(JobName.ProbeAgentInstance, payload(`ok-${jobId}`), {
      jobId,
      removeOnComplete: false,
    });
    const second = await producer.enqueue(JobName.ProbeAgentInstance, payload(`ok-${jobId}`), {
      jobId,
      removeOnComplete: false,
    });
    expect(second.id).toBe(first.id);
    await settled(first);
    expect(worker.calls.filter((call) => call.startsWith(`ok-${jobId}`))).toHaveLength(1);
  });

  it('a job name without a handler fails at once, without retries', async () => {
    const job = await queue.add('not-a-job', {}, { attempts: 5 });
    const done = await settled(job);
    expect(await done.getState()).toBe('failed');
    expect(done.attemptsMade).toBe(1);
    expect(done.failedReason).toContain('No handler for job "not-a-job"');
  });

  it('named job options apply unless the caller overrides them', async () => {
    const job = await producer.enqueue(JobName.ProbeAgentInstance, payload(`ok-${randomUUID()}`));
    expect(job.opts.attempts).toBe(1);
    expect(job.opts.removeOnComplete).toBe(true);
  });
});

describe('queue worker start-up checks', () => {
  it('refuses a processor that lacks a handler for a job of its queue', async () => {
    @Processor(QueueName.AgentProbes)
    class IncompleteWorker extends QueueWorker<QueueName.AgentProbes> {
      protected readonly queue = QueueName.AgentProbes;
      protected readonly handlers = {
        [JobName.ProbeAgentInstance]: () => Promise.resolve(),
      } as unknown as JobHandlers<QueueName.AgentProbes>;
    }
    const config = testConfig('registry', {
      REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-queues-check`,
    });
    const moduleRef = await Test.createTestingModule({
      imports: [
        PlatformConfigModule.forRoot(config),
        RedisModule,
        QueuesModule.forRoot(),
        QueuesModule.register(QueueName.AgentProbes),
      ],
      providers: [IncompleteWorker],
    }).compile();
    await expect(moduleRef.init()).rejects.toThrow(/no handler for: expire-heartbeats/);
    await moduleRef.close();
  });
});
