import { openTestDataSource, waitForLockWait } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { TaskWriteBuffer, type TaskRow } from './task-write-buffer.js';

function row(id: string, state: string, chunks: number): TaskRow {
  return {
    id,
    tenantId: '',
    owner: 'buffer-spec',
    agent: 'echo',
    contextId: 'ctx',
    state,
    statusTimestamp: new Date(),
    task: { id, contextId: 'ctx', chunks },
  };
}

async function stored(db: DataSource, id: string): Promise<unknown> {
  const rows = await db.query<Array<{ task: { chunks: number } }>>(
    'SELECT task FROM a2a_tasks WHERE id = $1',
    [id],
  );
  return rows[0]?.task.chunks;
}

describe('TaskWriteBuffer (real PostgreSQL)', () => {
  let db: DataSource;
  let buffer: TaskWriteBuffer;

  beforeAll(async () => {
    db = await openTestDataSource();
    buffer = new TaskWriteBuffer(db);
  });

  afterAll(async () => {
    await buffer.onApplicationShutdown();
    await db.destroy();
  });

  it('lends awaited rows to another statement, and flush() waits for that write too', async () => {
    const [id, unawaited] = [randomUUID(), randomUUID()];
    const saved = buffer.write(row(id, 'TASK_STATE_COMPLETED', 1), true, true);
    void buffer.write(row(unawaited, 'TASK_STATE_WORKING', 1), false, false);
    const taken = buffer.takeAwaited([id, unawaited]);
    // Only the row someone waits for is lent; it is served from memory while it is written.
    expect(taken.rows.map((entry) => entry.id)).toEqual([id]);
    expect(buffer.peek(id)?.task).toEqual({ id, contextId: 'ctx', chunks: 1 });
    let flushed = false;
    const flushing = buffer.flush().then(() => (flushed = true));
    await db.query(
      `INSERT INTO a2a_tasks (id, tenant_id, owner, agent, context_id, state, status_timestamp, task)
       VALUES ($1, '', 'buffer-spec', 'echo', 'ctx', 'TASK_STATE_COMPLETED', now(), $2::jsonb)`,
      [id, JSON.stringify({ id, contextId: 'ctx', chunks: 1 })],
    );
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(flushed).toBe(false);
    buffer.settleTaken(taken);
    await Promise.all([saved, flushing]);
    expect(await stored(db, unawaited)).toBe(1);
  });

  it('leaves an awaited row to the statement that will take it, however long that waits', async () => {
    const lending = new TaskWriteBuffer(db);
    const [lent, own] = [randomUUID(), randomUUID()];
    lending.lendAwaitedTo((id) => id === lent);
    const saved = lending.write(row(lent, 'TASK_STATE_COMPLETED', 1), true, true);
    await lending.write(row(own, 'TASK_STATE_COMPLETED', 1), true, true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await stored(db, own)).toBe(1);
    expect(await stored(db, lent)).toBeUndefined();
    const taken = lending.takeAwaited([lent]);
    expect(taken.rows.map((entry) => entry.id)).toEqual([lent]);
    await db.query(
      `INSERT INTO a2a_tasks (id, tenant_id, owner, agent, context_id, state, status_timestamp, task)
       VALUES ($1, '', 'buffer-spec', 'echo', 'ctx', 'TASK_STATE_COMPLETED', now(), $2::jsonb)`,
      [lent, JSON.stringify({ id: lent, contextId: 'ctx', chunks: 1 })],
    );
    lending.settleTaken(taken);
    await saved;
    await lending.onApplicationShutdown();
  });

  it('writes the rows it was leaving once the taker takes no more', async () => {
    const lending = new TaskWriteBuffer(db);
    const id = randomUUID();
    lending.lendAwaitedTo(() => true);
    const saved = lending.write(row(id, 'TASK_STATE_COMPLETED', 1), true, true);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await stored(db, id)).toBeUndefined();
    lending.lendAwaitedTo(undefined);
    await saved;
    expect(await stored(db, id)).toBe(1);
    await lending.onApplicationShutdown();
  });

  it('schedules nothing once shut down: a save after it is not written, and nothing keeps running', async () => {
    const closing = new TaskWriteBuffer(db);
    const [before, after] = [randomUUID(), randomUUID()];
    void closing.write(row(before, 'TASK_STATE_WORKING', 1), false, false);
    await closing.onApplicationShutdown();
    expect(await stored(db, before)).toBe(1);
    void closing.write(row(after, 'TASK_STATE_WORKING', 1), false, false);
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(await stored(db, after)).toBeUndefined();
  });

  it('writes only the latest version of a task saved within the window', async () => {
    const id = randomUUID();
    await buffer.write(row(id, 'TASK_STATE_SUBMITTED', 0), true, false);
    await Promise.all(
      [1, 2, 3].map((n) => buffer.write(row(id, 'TASK_STATE_WORKING', n), false, false)),
    );
    await buffer.write(row(id, 'TASK_STATE_COMPLETED', 4), true, true);
    expect(await stored(db, id)).toBe(4);
    expect(buffer.peek(id)).toBeUndefined();
  });

  it('serves a settled task from memory until the table holds it, never an older version', async () => {
    const id = randomUUID();
    await buffer.write(row(id, 'TASK_STATE_WORKING', 2), true, false);

    // Hold the row so that the next flush blocks half-way, as a slow commit would.
    const blocker = db.createQueryRunner();
    await blocker.connect();
    await blocker.startTransaction();
    await blocker.query('SELECT id FROM a2a_tasks WHERE id = $1 FOR UPDATE', [id]);
    try {
      const written = buffer.write(row(id, 'TASK_STATE_COMPLETED', 3), true, true);
      await waitForLockWait(db, 'INSERT INTO a2a_tasks');
      // The table still holds the older version, so the buffer must answer.
      expect(await stored(db, id)).toBe(2);
      expect(buffer.peek(id)?.task).toEqual(expect.objectContaining({ chunks: 3 }));
      await blocker.commitTransaction();
      await written;
    } finally {
      if (blocker.isTransactionActive) await blocker.rollbackTransaction();
      await blocker.release();
    }
    expect(await stored(db, id)).toBe(3);
    expect(buffer.peek(id)).toBeUndefined();
  });

  it('flush() writes what was only acknowledged', async () => {
    const id = randomUUID();
    await buffer.write(row(id, 'TASK_STATE_WORKING', 7), false, false);
    await buffer.flush();
    expect(await stored(db, id)).toBe(7);
  });
});
