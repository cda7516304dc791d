import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { PreparedStatement } from '@app/persistence';
import { DataSource } from 'typeorm';

/**
 * Writes a batch of tasks, given as one JSON array in the parameter named
 * (a constant statement for any batch size). The WHERE clause keeps a task
 * id from ever crossing tenants, callers or agents.
 */
export function upsertTasksSql(parameter: string): string {
  return `INSERT INTO a2a_tasks (id, tenant_id, owner, agent, context_id, state, status_timestamp, task)
    SELECT id, tenant_id, owner, agent, context_id, state, status_timestamp, task
    FROM jsonb_to_recordset(${parameter}::jsonb) AS t(
      id varchar, tenant_id varchar, owner varchar, agent varchar, context_id varchar,
      state varchar, status_timestamp timestamptz, task jsonb)
    ON CONFLICT (id) DO UPDATE SET
      context_id = EXCLUDED.context_id, state = EXCLUDED.state,
      status_timestamp = EXCLUDED.status_timestamp, task = EXCLUDED.task, updated_at = now()
    WHERE a2a_tasks.tenant_id = EXCLUDED.tenant_id AND a2a_tasks.owner = EXCLUDED.owner
      AND a2a_tasks.agent = EXCLUDED.agent`;
}

const UPSERT_TASKS = new PreparedStatement<never>('a2a.upsert-tasks', upsertTasksSql('$1'));

/** One row of `a2a_tasks` as the buffer writes it. */
export interface TaskRow {
  readonly id: string;
  readonly tenantId: string;
  readonly owner: string;
  readonly agent: string;
  readonly contextId: string;
  readonly state: string;
  readonly statusTimestamp: Date;
  /** ProtoJSON wire form of the task. */
  readonly task: Record<string, unknown>;
}

type Waiter = { resolve: () => void; reject: (error: unknown) => void };
type Entry = { row: TaskRow; waiters: Waiter[] };

/** Rows taken out of the buffer to be written by someone else's statement. */
export interface TakenRows {
  readonly batch: ReadonlyArray<[string, Entry]>;
  readonly rows: readonly TaskRow[];
  /** Settles the write for {@link TaskWriteBuffer.flush}. */
  readonly done: () => void;
}

const COALESCE_WINDOW_MS = 15;
const MAX_BATCH = 500;
const MAX_CONCURRENT_FLUSHES = 4;
const KNOWN_TASKS_LIMIT = 100_000;
const MAX_IN_FLIGHT = 10_000;

/**
 * Group commit for task writes. The SDK saves a task after every event; most
 * of those saves are intermediate states that nobody else reads before the
 * next one. Here:
 * - a save that must be durable waits for the flush that writes it;
 * - any other save is acknowledged at once and coalesced: only the latest
 *   version of a task within the window is written;
 * - a flush writes the pending tasks of every request in one upsert, and a
 *   few flushes run side by side (never two with the same task, so a newer
 *   version is never overtaken by an older one).
 * Tasks this process is executing are also served from memory (the SDK
 * re-reads a task before every event), and so is a task while its latest
 * version is being written: a reader never gets an older version than one
 * already served.
 */
@Injectable()
export class TaskWriteBuffer implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskWriteBuffer.name);
  private readonly pending = new Map<string, Entry>();
  /** Rows being written right now, by task id (at most one flush per task at a time). */
  private readonly writing = new Map<string, TaskRow>();
  private readonly activeFlushes = new Set<Promise<void>>();
  /** Writes of rows taken by another statement ({@link takeAwaited}), until they settle. */
  private readonly lentFlushes = new Set<Promise<void>>();
  private readonly inFlight = new Map<string, TaskRow>();
  private readonly known = new Set<string>();
  /** Whether another statement will take a task's awaited row (see {@link lendAwaitedTo}). */
  private willTake: (id: string) => boolean = () => false;
  private timer?: NodeJS.Timeout;
  private immediateScheduled = false;
  private failures = 0;
  private closed = false;

  constructor(private readonly dataSource: DataSource) {}

  /** Whether this process has already saved the task (so its row exists or is about to). */
  isKnown(id: string): boolean {
    return this.known.has(id);
  }

  /** The latest version of a task this process is writing or executing, if any. */
  peek(id: string): TaskRow | undefined {
    return this.pending.get(id)?.row ?? this.writing.get(id) ?? this.inFlight.get(id);
  }

  /**
   * Queues the latest version of a task. `durable`: resolve only once it is
   * written. `settled`: the task has reached a terminal or interrupted state,
   * so it leaves the in-memory set once written.
   */
  write(row: TaskRow, durable: boolean, settled: boolean): Promise<void> {
    const entry = this.pending.get(row.id);
    if (entry) entry.row = row;
    else this.pending.set(row.id, { row, waiters: [] });
    this.remember(row, settled);
    if (!durable) {
      this.schedule(false);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.pending.get(row.id)?.waiters.push({ resolve, reject });
      this.schedule(true);
    });
  }

  /**
   * Leaves the awaited rows of the tasks `willTake` names to the statement
   * that takes them with {@link takeAwaited} (the task event log writes them
   * with their events): the buffer does not write them in a statement of its
   * own, even while that statement has to wait its turn. Undefined: the
   * taker takes no more (it has shut down), and the buffer writes the rows
   * it was leaving to it.
   */
  lendAwaitedTo(willTake: ((id: string) => boolean) | undefined): void {
    this.willTake = willTake ?? (() => false);
    if (willTake === undefined && this.pending.size > 0) this.schedule(true);
  }

  /** Writes everything queued so far (before a listing, and at shutdown). */
  async flush(): Promise<void> {
    const written = [...this.pending.values()].map(
      (entry) => new Promise<void>((resolve, reject) => entry.waiters.push({ resolve, reject })),
    );
    if (written.length > 0) this.schedule(true);
    await Promise.all([...written, ...this.activeFlushes, ...this.lentFlushes]);
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flush().catch((error: unknown) => {
      this.logger.error(`Tasks not written at shutdown: ${String(error)}`);
    });
    // Nothing is scheduled past this point: no timer or retry outlives the app.
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    if (this.pending.size > 0) {
      this.logger.error(`${this.pending.size} task(s) saved during shutdown not written`);
    }
  }

  private remember(row: TaskRow, settled: boolean): void {
    if (this.known.size >= KNOWN_TASKS_LIMIT) this.known.clear();
    this.known.add(row.id);
    this.inFlight.delete(row.id);
    if (settled) return;
    this.inFlight.set(row.id, row);
    // An executor that died without settling its task must not pin it for ever.
    if (this.inFlight.size > MAX_IN_FLIGHT)
      this.inFlight.delete(this.inFlight.keys().next().value as string);
  }

  private schedule(now: boolean): void {
    if (this.closed) return;
    if (now) {
      if (this.immediateScheduled) return;
      this.immediateScheduled = true;
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      setImmediate(() => {
        this.immediateScheduled = false;
        this.startFlushes();
      });
    } else if (!this.timer && !this.immediateScheduled) {
      this.timer = setTimeout(() => {
        this.timer = undefined;
        this.startFlushes();
      }, COALESCE_WINDOW_MS);
    }
  }

  private startFlushes(): void {
    while (this.activeFlushes.size < MAX_CONCURRENT_FLUSHES) {
      const batch: Array<[string, Entry]> = [];
      for (const [id, entry] of this.pending) {
        if (this.writing.has(id)) continue;
        if (entry.waiters.length > 0 && this.willTake(id)) continue;
        batch.push([id, entry]);
        if (batch.length >= MAX_BATCH) break;
      }
      if (batch.length === 0) return;
      for (const [id, entry] of batch) {
        this.pending.delete(id);
        this.writing.set(id, entry.row);
      }
      const flush = this.writeBatch(batch).finally(() => {
        this.activeFlushes.delete(flush);
        // Only now may a read fall through to the table: it holds this version.
        for (const [id] of batch) this.writing.delete(id);
        if (this.pending.size > 0) {
          const waiting = [...this.pending.values()].some((entry) => entry.waiters.length > 0);
          this.schedule(waiting);
        }
      });
      this.activeFlushes.add(flush);
    }
  }

  private async writeBatch(batch: Array<[string, Entry]>): Promise<void> {
    try {
      await this.writeRows(batch.map(([, entry]) => entry.row));
      this.written(batch);
    } catch (error) {
      this.notWritten(batch, error);
      if (!this.closed) await sleep(Math.min(50 * 2 ** this.failures, 2_000));
    }
  }

  /**
   * Takes the rows of `ids` that a caller waits for (durable saves) out of
   * the queue, for a statement that writes them along with other work of
   * the same tasks (the task event log writes them with their events). The
   * taker must report the outcome with {@link settleTaken}.
   */
  takeAwaited(ids: Iterable<string>): TakenRows {
    const batch: Array<[string, Entry]> = [];
    for (const id of ids) {
      const entry = this.pending.get(id);
      if (entry === undefined || entry.waiters.length === 0 || this.writing.has(id)) continue;
      batch.push([id, entry]);
    }
    for (const [id, entry] of batch) {
      this.pending.delete(id);
      this.writing.set(id, entry.row);
    }
    let done = () => {};
    if (batch.length > 0) {
      const written = new Promise<void>((resolve) => (done = resolve));
      this.lentFlushes.add(written);
      void written.then(() => this.lentFlushes.delete(written));
    }
    return { batch, rows: batch.map(([, entry]) => entry.row), done };
  }

  /** The outcome of writing rows taken with {@link takeAwaited}. */
  settleTaken(taken: TakenRows, error?: unknown): void {
    if (error === undefined) this.written(taken.batch);
    else this.notWritten(taken.batch, error);
    for (const [id] of taken.batch) this.writing.delete(id);
    taken.done();
    if (this.pending.size > 0) {
      const waiting = [...this.pending.values()].some((entry) => entry.waiters.length > 0);
      this.schedule(waiting);
    }
  }

  private written(batch: ReadonlyArray<[string, Entry]>): void {
    this.failures = 0;
    for (const [, entry] of batch) entry.waiters.forEach((waiter) => waiter.resolve());
  }

  private notWritten(batch: ReadonlyArray<[string, Entry]>, error: unknown): void {
    // Tell the waiting callers; keep the rows (unless a newer version came) for the next flush.
    for (const [id, entry] of batch) {
      entry.waiters.forEach((waiter) => waiter.reject(error));
      if (!this.pending.has(id)) this.pending.set(id, { row: entry.row, waiters: [] });
    }
    this.failures++;
    this.logger.warn(`Writing ${batch.length} task(s) failed: ${(error as Error).message}`);
  }

  /** Rows in the input form of the upsert (one JSON array). */
  static toInput(rows: readonly TaskRow[]): string {
    return JSON.stringify(
      rows.map((row) => ({
        id: row.id,
        tenant_id: row.tenantId,
        owner: row.owner,
        agent: row.agent,
        context_id: row.contextId,
        state: row.state,
        status_timestamp: row.statusTimestamp.toISOString(),
        task: row.task,
      })),
    );
  }

  private async writeRows(rows: readonly TaskRow[]): Promise<void> {
    await UPSERT_TASKS.rows(this.dataSource, [TaskWriteBuffer.toInput(rows)]);
  }
}
