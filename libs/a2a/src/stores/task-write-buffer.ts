import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';

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

const COALESCE_WINDOW_MS = 15;
const MAX_BATCH = 500;
const COLUMNS = 8;
const KNOWN_TASKS_LIMIT = 100_000;

/**
 * Group commit for task writes. The SDK saves a task after every event; most
 * of those saves are intermediate states that nobody else reads before the
 * next one. Here:
 * - a save that must be durable (a task's first save, a terminal or
 *   interrupted state) waits for the next flush;
 * - any other save is acknowledged at once and coalesced: only the latest
 *   version of a task within the window is written;
 * - one flush writes every pending task, of every request, in one upsert.
 * Until its row is written, a task is served from memory to this process.
 */
@Injectable()
export class TaskWriteBuffer implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskWriteBuffer.name);
  private pending = new Map<string, TaskRow>();
  private waiters: Waiter[] = [];
  private flushing?: Promise<void>;
  private timer?: NodeJS.Timeout;
  private immediate = false;
  private failures = 0;

  constructor(private readonly dataSource: DataSource) {}

  private readonly known = new Set<string>();

  /** Whether this process has already saved the task (so its row exists or is about to). */
  isKnown(id: string): boolean {
    return this.known.has(id);
  }

  /** The not-yet-written version of a task, if any. */
  peek(id: string): TaskRow | undefined {
    return this.pending.get(id);
  }

  write(row: TaskRow, durable: boolean): Promise<void> {
    this.pending.set(row.id, row);
    if (this.known.size >= KNOWN_TASKS_LIMIT) this.known.clear();
    this.known.add(row.id);
    if (!durable) {
      this.schedule(false);
      return Promise.resolve();
    }
    return new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule(true);
    });
  }

  /** Writes everything pending now (before a listing, and at shutdown). */
  async flush(): Promise<void> {
    while (this.flushing) await this.flushing;
    if (this.pending.size === 0) return;
    await new Promise<void>((resolve, reject) => {
      this.waiters.push({ resolve, reject });
      this.schedule(true);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    await this.flush().catch((error: unknown) => {
      this.logger.error(`Tasks not written at shutdown: ${String(error)}`);
    });
  }

  private schedule(now: boolean): void {
    if (now) this.immediate = true;
    if (this.flushing) return;
    if (this.immediate) {
      if (this.timer) clearTimeout(this.timer);
      this.timer = undefined;
      setImmediate(() => this.startFlush());
    } else if (!this.timer) {
      this.timer = setTimeout(() => this.startFlush(), COALESCE_WINDOW_MS);
    }
  }

  private startFlush(): void {
    if (this.flushing || (this.pending.size === 0 && this.waiters.length === 0)) return;
    this.timer = undefined;
    this.immediate = false;
    const rows = [...this.pending.values()].slice(0, MAX_BATCH);
    const waiters = rows.length === this.pending.size ? this.waiters.splice(0) : [];
    for (const row of rows) this.pending.delete(row.id);
    this.flushing = this.writeRows(rows).then(
      () => {
        this.failures = 0;
        waiters.forEach((waiter) => waiter.resolve());
      },
      async (error: unknown) => {
        // Put back what a newer save has not replaced, tell the waiting callers, back off.
        for (const row of rows) if (!this.pending.has(row.id)) this.pending.set(row.id, row);
        waiters.forEach((waiter) => waiter.reject(error));
        this.failures++;
        this.logger.warn(`Writing ${rows.length} task(s) failed: ${(error as Error).message}`);
        await sleep(Math.min(50 * 2 ** this.failures, 2_000));
      },
    );
    void this.flushing.finally(() => {
      this.flushing = undefined;
      if (this.pending.size > 0 || this.waiters.length > 0)
        this.schedule(this.waiters.length > 0 || this.immediate);
    });
  }

  private async writeRows(rows: readonly TaskRow[]): Promise<void> {
    if (rows.length === 0) return;
    const values: unknown[] = [];
    const tuples = rows.map((row, index) => {
      values.push(
        row.id,
        row.tenantId,
        row.owner,
        row.agent,
        row.contextId,
        row.state,
        row.statusTimestamp,
        row.task,
      );
      const base = index * COLUMNS;
      return `(${Array.from({ length: COLUMNS }, (_, column) => `$${base + column + 1}`).join(', ')})`;
    });
    // The WHERE clause keeps a task id from ever crossing tenants, callers or agents.
    await this.dataSource.query(
      `INSERT INTO a2a_tasks (id, tenant_id, owner, agent, context_id, state, status_timestamp, task)
       VALUES ${tuples.join(', ')}
       ON CONFLICT (id) DO UPDATE SET
         context_id = EXCLUDED.context_id, state = EXCLUDED.state,
         status_timestamp = EXCLUDED.status_timestamp, task = EXCLUDED.task, updated_at = now()
       WHERE a2a_tasks.tenant_id = EXCLUDED.tenant_id AND a2a_tasks.owner = EXCLUDED.owner
         AND a2a_tasks.agent = EXCLUDED.agent`,
      values,
    );
  }
}
