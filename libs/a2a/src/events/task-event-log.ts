import { StreamResponse } from '@a2a-js/sdk';
import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { PreparedStatement } from '@app/persistence';
import { DataSource } from 'typeorm';
import { RunningTasksRegistry } from './running-tasks.registry.js';

/**
 * Appends a batch of events, [[taskId, event], ...] as one JSON parameter:
 * each task's events are numbered after its last logged one, in the order
 * they were appended.
 */
const APPEND_EVENTS = new PreparedStatement<{ task_id: string; seq: number }>(
  'a2a.append-task-events',
  `WITH input AS (
      SELECT item->>0 AS task_id, item->1 AS event, ord
      FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(item, ord)
    ), base AS (
      SELECT i.task_id,
             coalesce((SELECT max(e.seq) FROM a2a_task_events e WHERE e.task_id = i.task_id), 0) AS last
      FROM (SELECT DISTINCT task_id FROM input) i
    )
    INSERT INTO a2a_task_events (task_id, seq, event)
    SELECT input.task_id,
           base.last + row_number() OVER (PARTITION BY input.task_id ORDER BY input.ord),
           input.event
    FROM input JOIN base USING (task_id)
    RETURNING task_id, seq`,
);

/** An event of the log: its place in the task's sequence and the event in wire form. */
export interface LoggedEvent {
  readonly seq: number;
  /** StreamResponse, ProtoJSON. */
  readonly event: Record<string, unknown>;
}

type Waiter = { resolve: () => void; reject: (error: unknown) => void };
/** Events as JSON text (StreamResponse, ProtoJSON), serialised once for the INSERT and the announcement. */
type Pending = { events: string[]; waiters: Waiter[] };

const MAX_BATCH_TASKS = 500;
const MAX_CONCURRENT_FLUSHES = 4;

/** The Redis channel on which a task's logged events are announced. */
export function taskEventChannel(prefix: string, taskId: string): string {
  return `${prefix}:a2a:task-events:${taskId}`;
}

/**
 * The durable log of task events in PostgreSQL (`a2a_task_events`), with live
 * fan-out over Redis pub/sub. Appends are acknowledged at once and
 * group-committed: the events of every request pending at the next turn of
 * the event loop go in one INSERT, which numbers each task's events after its
 * last one; once committed, each event is published on the task's channel
 * with its sequence number. A subscriber that listens first and then reads
 * the log therefore sees every event, and can drop the ones it read twice by
 * their number.
 */
@Injectable()
export class TaskEventLog implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskEventLog.name);
  private readonly pending = new Map<string, Pending>();
  /** The entry being written, by task id (at most one flush per task at a time). */
  private readonly writing = new Map<string, Pending>();
  private readonly activeFlushes = new Set<Promise<void>>();
  private readonly prefix: string;
  private scheduled = false;
  private failures = 0;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(ConfigService) config: PlatformConfigService,
    private readonly runningTasks: RunningTasksRegistry,
  ) {
    this.prefix = config.get('redis', { infer: true }).keyPrefix;
  }

  channel(taskId: string): string {
    return taskEventChannel(this.prefix, taskId);
  }

  /** Queues an event of a task; it is written with the next flush. */
  append(taskId: string, event: StreamResponse): void {
    const wire = JSON.stringify(StreamResponse.toJSON(event));
    const entry = this.pending.get(taskId);
    if (entry) entry.events.push(wire);
    else this.pending.set(taskId, { events: [wire], waiters: [] });
    this.schedule();
  }

  /** Resolves once every event of the task appended so far is written and announced. */
  async flushTask(taskId: string): Promise<void> {
    // Only this task's writes: the one in flight, if any, and what is still pending.
    const waits: Array<Promise<void>> = [];
    for (const entry of [this.writing.get(taskId), this.pending.get(taskId)]) {
      if (entry === undefined) continue;
      waits.push(new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject })));
    }
    if (this.pending.has(taskId)) this.schedule();
    await Promise.all(waits);
  }

  /** The task's logged events after `afterSeq`, in order. */
  async read(taskId: string, afterSeq = 0): Promise<LoggedEvent[]> {
    const rows = await this.dataSource.query<
      Array<{ seq: number; event: Record<string, unknown> }>
    >('SELECT seq, event FROM a2a_task_events WHERE task_id = $1 AND seq > $2 ORDER BY seq', [
      taskId,
      afterSeq,
    ]);
    return rows.map((row) => ({ seq: Number(row.seq), event: row.event }));
  }

  async onApplicationShutdown(): Promise<void> {
    while (this.pending.size > 0 || this.activeFlushes.size > 0) {
      const ids = [...this.pending.keys()];
      await Promise.all([...ids.map((id) => this.flushTask(id)), ...this.activeFlushes]).catch(
        (error: unknown) => {
          this.logger.error(`Task events not written at shutdown: ${String(error)}`);
        },
      );
      if (this.failures > 0) return;
    }
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startFlushes();
    });
  }

  private startFlushes(): void {
    while (this.activeFlushes.size < MAX_CONCURRENT_FLUSHES) {
      const batch: Array<[string, Pending]> = [];
      for (const [taskId, entry] of this.pending) {
        if (this.writing.has(taskId)) continue;
        batch.push([taskId, entry]);
        if (batch.length >= MAX_BATCH_TASKS) break;
      }
      if (batch.length === 0) return;
      for (const [taskId, entry] of batch) {
        this.pending.delete(taskId);
        this.writing.set(taskId, entry);
      }
      const flush = this.writeBatch(batch).finally(() => {
        this.activeFlushes.delete(flush);
        for (const [taskId, entry] of batch) {
          if (this.writing.get(taskId) === entry) this.writing.delete(taskId);
        }
        if (this.pending.size > 0) this.schedule();
      });
      this.activeFlushes.add(flush);
    }
  }

  private async writeBatch(batch: Array<[string, Pending]>): Promise<void> {
    // One JSON parameter, [[taskId, event], ...], built from the events' text: no array
    // literal for pg to escape character by character.
    const input: string[] = [];
    // Tasks still running become visible with this write: their executor is claimed first.
    this.runningTasks.claim(batch.map(([taskId]) => taskId));
    for (const [taskId, entry] of batch) {
      const id = JSON.stringify(taskId);
      for (const event of entry.events) input.push(`[${id},${event}]`);
    }
    try {
      const rows = await APPEND_EVENTS.rows(this.dataSource, [`[${input.join(',')}]`]);
      this.failures = 0;
      this.announce(batch, rows);
      for (const [, entry] of batch) entry.waiters.forEach((waiter) => waiter.resolve());
    } catch (error) {
      // Put the events (and whoever waits for them) back in front of any newer ones, and try
      // again after a pause.
      for (const [taskId, entry] of batch) {
        const newer = this.pending.get(taskId);
        this.pending.set(taskId, {
          events: [...entry.events, ...(newer?.events ?? [])],
          waiters: [...entry.waiters, ...(newer?.waiters ?? [])],
        });
        this.writing.delete(taskId);
      }
      this.failures++;
      this.logger.warn(`Writing task events failed: ${(error as Error).message}`);
      await sleep(Math.min(50 * 2 ** this.failures, 2_000));
    }
  }

  private announce(
    batch: Array<[string, Pending]>,
    rows: ReadonlyArray<{ task_id: string; seq: number }>,
  ): void {
    const seqs = new Map<string, number[]>();
    for (const row of rows) {
      const list = seqs.get(row.task_id) ?? [];
      list.push(Number(row.seq));
      seqs.set(row.task_id, list);
    }
    // One announcement per task and flush: its events in order, as [{seq, event}, ...].
    const pipeline = this.redis.pipeline();
    for (const [taskId, entry] of batch) {
      const numbers = (seqs.get(taskId) ?? []).sort((a, b) => a - b);
      const announced: string[] = [];
      entry.events.forEach((event, index) => {
        const seq = numbers[index];
        if (seq !== undefined) announced.push(`{"seq":${seq},"event":${event}}`);
      });
      if (announced.length > 0) pipeline.publish(this.channel(taskId), `[${announced.join(',')}]`);
    }
    // Live subscribers catch up from the log if an announcement is lost.
    pipeline.exec().catch((error: unknown) => {
      this.logger.warn(`Announcing task events failed: ${String(error)}`);
    });
  }
}
