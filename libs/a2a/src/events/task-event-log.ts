import { StreamResponse } from '@a2a-js/sdk';
import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';
import { PreparedStatement } from '@app/persistence';
import { DataSource } from 'typeorm';
import { TERMINAL_STATES } from '../stores/task-states.js';
import { TaskWriteBuffer, upsertTasksSql } from '../stores/task-write-buffer.js';
import { RunningTasksRegistry } from './running-tasks.registry.js';
import { TaskEventHub } from './task-event-hub.js';

/**
 * The push configs of the tasks a subquery names, as of the statement, one
 * row per task that has any (in the shape of the event log's writes).
 */
function pushConfigsSql(taskIds: string): string {
  return `SELECT c.task_id, NULL::integer AS seq, jsonb_agg(jsonb_build_object(
             'tenant_id', c.tenant_id, 'owner', c.owner, 'agent', c.agent,
             'config', c.config, 'wire_version', c.wire_version) ORDER BY c.created_at, c.id)
             AS push_configs
    FROM a2a_push_configs c
    WHERE c.task_id IN (${taskIds})
    GROUP BY c.task_id`;
}

type WrittenRow = { task_id: string; seq: number | null; push_configs: PushConfigRow[] | null };

/**
 * One turn's writes of tasks, in one statement (one round trip, one commit):
 * - appends a batch of events, [[taskId, event, ends?], ...] as one JSON
 *   parameter ($1): each task's events of the batch become one row, a run
 *   numbered after the task's last logged event, in the order they were
 *   appended (`seq` is the number of the run's last event). A task whose
 *   events of the batch end it (`ends` on any of them) and which has nothing
 *   logged yet gets no row: its whole life is in this batch, so the task row
 *   tells all there is to tell, and no one can follow a task that has ended.
 *   A task known to have nothing logged comes as [taskId] alone, without
 *   the events that would not be written;
 * - upserts the task rows someone waits for ($2, see TaskWriteBuffer);
 * - returns, with each run's last number, the push configs of the batch's
 *   tasks as of this write (one row per task that has any), so that the
 *   push sender needs no lookup of its own.
 */
const WRITE_TASK_EVENTS = new PreparedStatement<WrittenRow>(
  'a2a.write-task-events',
  `WITH input AS (
      SELECT item->>0 AS task_id, item->1 AS event, item->2 IS NOT NULL AS ends, ord
      FROM jsonb_array_elements($1::jsonb) WITH ORDINALITY AS t(item, ord)
    ), runs AS (
      SELECT input.task_id,
             (SELECT max(e.seq) FROM a2a_task_events e WHERE e.task_id = input.task_id) AS last,
             count(*) AS count,
             bool_or(input.ends) AS ends,
             jsonb_agg(input.event ORDER BY input.ord) AS events
      FROM input
      WHERE input.event IS NOT NULL
      GROUP BY input.task_id
    ), appended AS (
      INSERT INTO a2a_task_events (task_id, seq, events)
      SELECT task_id, coalesce(last, 0) + count, events
      FROM runs
      WHERE last IS NOT NULL OR NOT ends
      RETURNING task_id, seq
    ), upserted AS (
      ${upsertTasksSql('$2')}
      RETURNING id
    )
    SELECT task_id, seq, NULL::jsonb AS push_configs FROM appended
    UNION ALL
    ${pushConfigsSql('SELECT DISTINCT task_id FROM input')}`,
);

/**
 * The same for a batch with no event to log (every task's whole life is in
 * it): the task rows ($2) and the push configs of the tasks ($1, their ids),
 * without the event log's part of the statement, which costs PostgreSQL
 * about a quarter of the work even when it writes nothing.
 */
const WRITE_TASK_ROWS = new PreparedStatement<WrittenRow>(
  'a2a.write-task-rows',
  `WITH upserted AS (
      ${upsertTasksSql('$2')}
      RETURNING id
    )
    ${pushConfigsSql('SELECT unnest($1::varchar[])')}`,
);

/** A push config of a task as the event log's write returns it. */
export interface PushConfigRow {
  readonly tenant_id: string;
  readonly owner: string;
  readonly agent: string;
  /** TaskPushNotificationConfig, ProtoJSON. */
  readonly config: Record<string, unknown>;
  readonly wire_version: string;
}

/** An event of the log: its place in the task's sequence and the event in wire form. */
export interface LoggedEvent {
  readonly seq: number;
  /** StreamResponse, ProtoJSON. */
  readonly event: Record<string, unknown>;
}

type Waiter = {
  resolve: (pushConfigs: readonly PushConfigRow[]) => void;
  reject: (error: unknown) => void;
};
/**
 * Events as JSON text (StreamResponse, ProtoJSON), serialised once for the
 * INSERT and the announcement; `ends`: the last of them ends the task;
 * `fresh`: they are the first events of a task this process has just
 * created, so nothing of the task is logged.
 */
type Pending = { events: string[]; waiters: Waiter[]; ends: boolean; fresh: boolean };

/** Whether an event puts its task in a terminal state (after which it has no more events). */
function endsTask(event: StreamResponse): boolean {
  const payload = event.payload;
  const state =
    payload?.$case === 'statusUpdate' || payload?.$case === 'task'
      ? payload.value.status?.state
      : undefined;
  return state !== undefined && TERMINAL_STATES.has(state);
}

const MAX_BATCH_TASKS = 500;
const MAX_CONCURRENT_FLUSHES = 4;
/**
 * A flush waits for the one in flight, so that what arrives meanwhile is
 * written together (group commit: fewer, larger statements); only a flush in
 * flight for this long (a lock wait, a slow commit) lets the next start
 * beside it, so that one stuck task does not hold up the others.
 */
const STALLED_FLUSH_MS = 10;

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
 *
 * A task that starts and ends within one batch (a synchronous executor, such
 * as the echo agent's) is neither logged nor announced, unless a follower in
 * this process listens: its task row, written in the same statement when a
 * caller waits for it, holds its end state and artifacts, and a task that
 * has ended cannot be subscribed to. This halves what such a task costs
 * PostgreSQL. A follower elsewhere that saw the task running before its end
 * reaches it from the task row (see TaskStreams).
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
  private lastFlushStarted = 0;
  private stallCheck?: NodeJS.Timeout;
  private failures = 0;
  private closed = false;

  constructor(
    private readonly dataSource: DataSource,
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    @Inject(ConfigService) config: PlatformConfigService,
    private readonly runningTasks: RunningTasksRegistry,
    private readonly rows: TaskWriteBuffer,
    private readonly hub: TaskEventHub,
  ) {
    this.prefix = config.get('redis', { infer: true }).keyPrefix;
    // A task with events still to write has its awaited row written by the same statement.
    rows.lendAwaitedTo((taskId) => this.pending.has(taskId));
  }

  channel(taskId: string): string {
    return taskEventChannel(this.prefix, taskId);
  }

  /**
   * Queues an event of a task; it is written with the next flush. `first`:
   * the task's first event ever (the task was created in this process with
   * this event), so nothing of it is logged yet.
   */
  append(taskId: string, event: StreamResponse, first = false): void {
    const wire = JSON.stringify(StreamResponse.toJSON(event));
    const ends = endsTask(event);
    const entry = this.pending.get(taskId);
    if (entry) {
      entry.events.push(wire);
      entry.ends = ends;
    } else this.pending.set(taskId, { events: [wire], waiters: [], ends, fresh: first });
    this.schedule();
  }

  /**
   * The push configs of a task as of the write of its pending events, or
   * undefined when none of its events is pending or being written.
   */
  pushConfigsOf(taskId: string): Promise<readonly PushConfigRow[]> | undefined {
    const entry = this.writing.get(taskId) ?? this.pending.get(taskId);
    if (entry === undefined) return undefined;
    return new Promise((resolve, reject) => entry.waiters.push({ resolve, reject }));
  }

  /** Resolves once every event of the task appended so far is written and announced. */
  async flushTask(taskId: string): Promise<void> {
    // Only this task's writes: the one in flight, if any, and what is still pending.
    const waits: Array<Promise<void>> = [];
    for (const entry of [this.writing.get(taskId), this.pending.get(taskId)]) {
      if (entry === undefined) continue;
      waits.push(
        new Promise<void>((resolve, reject) =>
          entry.waiters.push({ resolve: () => resolve(), reject }),
        ),
      );
    }
    if (this.pending.has(taskId)) this.schedule();
    await Promise.all(waits);
  }

  /** The task's logged events after `afterSeq`, in order. */
  async read(taskId: string, afterSeq = 0): Promise<LoggedEvent[]> {
    const runs = await this.dataSource.query<
      Array<{ seq: number; events: Array<Record<string, unknown>> }>
    >('SELECT seq, events FROM a2a_task_events WHERE task_id = $1 AND seq > $2 ORDER BY seq', [
      taskId,
      afterSeq,
    ]);
    const logged: LoggedEvent[] = [];
    for (const run of runs) {
      const first = Number(run.seq) - run.events.length + 1;
      run.events.forEach((event, index) => {
        if (first + index > afterSeq) logged.push({ seq: first + index, event });
      });
    }
    return logged;
  }

  async onApplicationShutdown(): Promise<void> {
    while (this.pending.size > 0 || this.activeFlushes.size > 0) {
      const ids = [...this.pending.keys()];
      await Promise.all([...ids.map((id) => this.flushTask(id)), ...this.activeFlushes]).catch(
        (error: unknown) => {
          this.logger.error(`Task events not written at shutdown: ${String(error)}`);
        },
      );
      if (this.failures > 0) break;
    }
    // Nothing is scheduled past this point: no retry outlives the app.
    this.closed = true;
    clearTimeout(this.stallCheck);
    // Rows of tasks whose events could not be written are the buffer's to write again.
    this.rows.lendAwaitedTo(undefined);
  }

  private schedule(): void {
    if (this.scheduled || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.startFlushes();
    });
  }

  private startFlushes(): void {
    while (this.activeFlushes.size < MAX_CONCURRENT_FLUSHES) {
      if (this.activeFlushes.size > 0 && !this.stalled()) return;
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
      this.lastFlushStarted = performance.now();
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

  /**
   * Whether the latest flush has been in flight long enough for another to
   * start beside it; if not, and events wait, they are looked at again then.
   */
  private stalled(): boolean {
    const waited = performance.now() - this.lastFlushStarted;
    if (waited >= STALLED_FLUSH_MS) return true;
    if (this.stallCheck === undefined && this.pending.size > 0 && !this.closed) {
      this.stallCheck = setTimeout(() => {
        this.stallCheck = undefined;
        this.startFlushes();
      }, STALLED_FLUSH_MS - waited);
    }
    return false;
  }

  private async writeBatch(batch: Array<[string, Pending]>): Promise<void> {
    // One JSON parameter, [[taskId, event], ...], built from the events' text: no array
    // literal for pg to escape character by character.
    const input: string[] = [];
    let logged = false;
    const ids = batch.map(([taskId]) => taskId);
    // Tasks still running become visible with this write: their executor is claimed first.
    this.runningTasks.claim(ids);
    for (const [taskId, entry] of batch) {
      const id = JSON.stringify(taskId);
      // A follower in this process hears of the task's end from the log, as promptly as ever.
      const unfollowedEnd = entry.ends && !this.hub.isListening(this.channel(taskId));
      // A whole life in one batch: no row to write, only the push configs to look up.
      if (unfollowedEnd && entry.fresh) {
        input.push(`[${id}]`);
        continue;
      }
      logged = true;
      for (const event of entry.events) input.push(`[${id},${event}]`);
      if (unfollowedEnd) input[input.length - 1] = `[${id},${entry.events.at(-1)},1]`;
    }
    // The rows of these tasks that someone waits for go in the same statement.
    const rows = this.rows.takeAwaited(ids);
    try {
      const taskRows = TaskWriteBuffer.toInput(rows.rows);
      const result = logged
        ? await WRITE_TASK_EVENTS.rows(this.dataSource, [`[${input.join(',')}]`, taskRows])
        : await WRITE_TASK_ROWS.rows(this.dataSource, [ids, taskRows]);
      this.rows.settleTaken(rows);
      this.failures = 0;
      const configs = new Map<string, PushConfigRow[]>();
      for (const row of result) if (row.push_configs) configs.set(row.task_id, row.push_configs);
      this.announce(
        batch,
        result.filter((row) => row.seq !== null),
      );
      for (const [taskId, entry] of batch) {
        const found = configs.get(taskId) ?? [];
        entry.waiters.forEach((waiter) => waiter.resolve(found));
      }
    } catch (error) {
      this.rows.settleTaken(rows, error);
      // Put the events (and whoever waits for them) back in front of any newer ones, and try
      // again after a pause.
      for (const [taskId, entry] of batch) {
        const newer = this.pending.get(taskId);
        this.pending.set(taskId, {
          events: [...entry.events, ...(newer?.events ?? [])],
          waiters: [...entry.waiters, ...(newer?.waiters ?? [])],
          ends: newer?.ends ?? entry.ends,
          fresh: entry.fresh,
        });
        this.writing.delete(taskId);
      }
      this.failures++;
      this.logger.warn(`Writing task events failed: ${(error as Error).message}`);
      if (!this.closed) await sleep(Math.min(50 * 2 ** this.failures, 2_000));
    }
  }

  private announce(
    batch: Array<[string, Pending]>,
    rows: ReadonlyArray<{ task_id: string; seq: number | null }>,
  ): void {
    const last = new Map<string, number>();
    for (const row of rows) if (row.seq !== null) last.set(row.task_id, Number(row.seq));
    if (last.size === 0) return;
    // One announcement per task and flush: its events in order, as [{seq, event}, ...].
    const pipeline = this.redis.pipeline();
    for (const [taskId, entry] of batch) {
      const lastSeq = last.get(taskId);
      if (lastSeq === undefined) continue;
      const first = lastSeq - entry.events.length + 1;
      const announced = entry.events.map(
        (event, index) => `{"seq":${first + index},"event":${event}}`,
      );
      pipeline.publish(this.channel(taskId), `[${announced.join(',')}]`);
    }
    // Live subscribers catch up from the log if an announcement is lost.
    pipeline.exec().catch((error: unknown) => {
      this.logger.warn(`Announcing task events failed: ${String(error)}`);
    });
  }
}
