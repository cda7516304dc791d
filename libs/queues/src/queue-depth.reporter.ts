import { InjectMetric, MetricName } from '@app/metrics';
import {
  Injectable,
  Logger,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ModuleRef } from '@nestjs/core';
import { getQueueToken } from '@nestjs/bullmq';
import type { Queue } from 'bullmq';
import type { Gauge } from 'prom-client';
import { QueueName } from './queue-names.js';

const INTERVAL_MS = 5_000;
const STATES = ['waiting', 'active', 'delayed', 'failed', 'prioritized'] as const;

/** Keeps `a2a_queue_depth{queue,state}` current for the queues this app has registered. */
@Injectable()
export class QueueDepthReporter implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(QueueDepthReporter.name);
  private timer?: NodeJS.Timeout;
  private queues: Queue[] = [];

  constructor(
    private readonly moduleRef: ModuleRef,
    // Absent where the metrics module is not loaded (library tests): then nothing is reported.
    @Optional()
    @InjectMetric(MetricName.QueueDepth)
    private readonly depth?: Gauge<'queue' | 'state'>,
  ) {}

  onApplicationBootstrap(): void {
    this.queues = Object.values(QueueName).flatMap((name) => {
      try {
        return [this.moduleRef.get<Queue>(getQueueToken(name), { strict: false })];
      } catch {
        return [];
      }
    });
    if (this.queues.length === 0 || this.depth === undefined) return;
    this.timer = setInterval(() => void this.report(), INTERVAL_MS);
    this.timer.unref();
    void this.report();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  private async report(): Promise<void> {
    for (const queue of this.queues) {
      try {
        const counts = await queue.getJobCounts(...STATES);
        for (const state of STATES)
          this.depth?.set({ queue: queue.name, state }, counts[state] ?? 0);
      } catch (error) {
        this.logger.debug(`Queue depth of ${queue.name} unavailable: ${(error as Error).message}`);
      }
    }
  }
}
