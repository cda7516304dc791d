import { TaskState } from '@a2a-js/sdk';
import type { PlatformConfigService } from '@app/config';
import { InjectMetric, MetricName } from '@app/metrics';
import { queryRows } from '@app/persistence';
import { QueueName } from '@app/queues';
import { InjectQueue } from '@nestjs/bullmq';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Queue } from 'bullmq';
import type { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { TERMINAL_STATES } from './task-states.js';

/** Tasks or jobs per statement: short transactions, no long locks on a busy table. */
const BATCH = 500;
/** Batches per kind and sweep: a backlog is worked off over several sweeps, never in one long one. */
const MAX_BATCHES = 50;

/**
 * The terminal states as SQL literals (constants of the SDK's enum, never
 * input), written out so that the planner can use the partial index
 * `IDX_a2a_tasks_finished`, whose predicate lists the same states.
 */
const FINISHED = [...TERMINAL_STATES].map((state) => `'${TaskState[state]}'`).join(', ');

export interface RetentionSweep {
  readonly taskEvents: number;
  readonly tasks: number;
  readonly failedDeliveries: number;
}

/**
 * Keeps what finished tasks leave behind from growing for ever: the event log
 * of a task in a terminal state (only streams and replays read it, and a
 * finished task can no longer be subscribed to), finished tasks themselves
 * when configured, with their push configs, and push deliveries that failed
 * their last attempt. Live tasks keep every event: their sequence numbers
 * and replays depend on the whole log.
 */
@Injectable()
export class A2aRetention {
  private readonly logger = new Logger(A2aRetention.name);

  constructor(
    private readonly dataSource: DataSource,
    @InjectQueue(QueueName.PushDeliveries) private readonly deliveries: Queue,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
    @InjectMetric(MetricName.A2aRetentionDeleted) private readonly deleted: Counter<'kind'>,
  ) {}

  async sweep(): Promise<RetentionSweep> {
    const a2a = this.config.get('a2a', { infer: true });
    const result: RetentionSweep = {
      tasks: a2a.retention.tasksSeconds > 0 ? await this.pruneTasks(a2a.retention.tasksSeconds) : 0,
      taskEvents: await this.pruneTaskEvents(a2a.retention.taskEventsSeconds),
      failedDeliveries: await this.pruneFailedDeliveries(a2a.push.failedRetentionSeconds),
    };
    this.deleted.inc({ kind: 'tasks' }, result.tasks);
    this.deleted.inc({ kind: 'task_events' }, result.taskEvents);
    this.deleted.inc({ kind: 'push_deliveries' }, result.failedDeliveries);
    if (result.tasks + result.taskEvents + result.failedDeliveries > 0) {
      this.logger.log(
        `Retention: deleted ${result.tasks} finished task(s), ${result.taskEvents} event(s) of finished tasks and ${result.failedDeliveries} failed push deliveries`,
      );
    }
    return result;
  }

  /** Events of tasks that finished (were last written) more than `seconds` ago. */
  private async pruneTaskEvents(seconds: number): Promise<number> {
    return this.inBatches(async () => {
      const rows = await queryRows<{ task_id: string; events: number }>(
        this.dataSource,
        `DELETE FROM a2a_task_events WHERE task_id IN (
           SELECT t.id FROM a2a_tasks t
           WHERE t.state IN (${FINISHED}) AND t.updated_at < now() - make_interval(secs => $1)
             AND EXISTS (SELECT 1 FROM a2a_task_events e WHERE e.task_id = t.id)
           LIMIT $2)
         RETURNING task_id, jsonb_array_length(events) AS events`,
        [seconds, BATCH],
      );
      return {
        deleted: rows.reduce((sum, row) => sum + Number(row.events), 0),
        full: new Set(rows.map((row) => row.task_id)).size === BATCH,
      };
    });
  }

  /** Tasks that finished (were last written) more than `seconds` ago, with their events and push configs. */
  private async pruneTasks(seconds: number): Promise<number> {
    return this.inBatches(async () => {
      const rows = await queryRows<{ id: string }>(
        this.dataSource,
        `WITH doomed AS (
           SELECT id FROM a2a_tasks
           WHERE state IN (${FINISHED}) AND updated_at < now() - make_interval(secs => $1)
           LIMIT $2 FOR UPDATE SKIP LOCKED
         ), events AS (
           DELETE FROM a2a_task_events WHERE task_id IN (SELECT id FROM doomed)
         ), configs AS (
           DELETE FROM a2a_push_configs WHERE task_id IN (SELECT id FROM doomed)
         )
         DELETE FROM a2a_tasks WHERE id IN (SELECT id FROM doomed) RETURNING id`,
        [seconds, BATCH],
      );
      return { deleted: rows.length, full: rows.length === BATCH };
    });
  }

  /** Deliveries that failed their last attempt more than `seconds` ago. */
  private async pruneFailedDeliveries(seconds: number): Promise<number> {
    return this.inBatches(async () => {
      const removed = await this.deliveries.clean(seconds * 1000, BATCH, 'failed');
      return { deleted: removed.length, full: removed.length === BATCH };
    });
  }

  /** Runs `batch` until it finds less than a full batch, at most {@link MAX_BATCHES} times. */
  private async inBatches(
    batch: () => Promise<{ deleted: number; full: boolean }>,
  ): Promise<number> {
    let total = 0;
    for (let round = 0; round < MAX_BATCHES; round++) {
      const { deleted, full } = await batch();
      total += deleted;
      if (!full) break;
    }
    return total;
  }
}
