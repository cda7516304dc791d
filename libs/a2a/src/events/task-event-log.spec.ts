import { type StreamResponse, TaskState } from '@a2a-js/sdk';
import type { PlatformConfig } from '@app/config';
import { PreparedStatement } from '@app/persistence';
import { openTestDataSource, waitFor, waitForLockWait } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { RunningTasksRegistry } from './running-tasks.registry.js';
import { TaskEventHub } from './task-event-hub.js';
import { TaskWriteBuffer } from '../stores/task-write-buffer.js';
import { TaskEventLog, type LoggedEvent } from './task-event-log.js';

/** A status update, its timestamp telling events apart (a, b, c … → …000Z, …001Z, …002Z …). */
function statusEvent(
  taskId: string,
  stamp = 'a',
  state = TaskState.TASK_STATE_WORKING,
): StreamResponse {
  return {
    payload: {
      $case: 'statusUpdate',
      value: {
        taskId,
        contextId: 'ctx',
        status: {
          state,
          message: undefined,
          timestamp: `2026-01-01T00:00:00.00${'abcdefghij'.indexOf(stamp)}Z`,
        },
        metadata: undefined,
      },
    },
  };
}

describe('TaskEventLog (real PostgreSQL and Redis)', () => {
  let db: DataSource;
  /**
   * Takes the task's first sequence number in a transaction left open, so
   * that a flush of the task's events blocks until it is rolled back.
   */
  const holdFirstEvent = async (taskId: string) => {
    const blocker = db.createQueryRunner();
    await blocker.connect();
    await blocker.startTransaction();
    await blocker.query(
      `INSERT INTO a2a_task_events (task_id, seq, events) VALUES ($1, 1, '[{}]'::jsonb)`,
      [taskId],
    );
    return blocker;
  };
  /** A push config of the task, as CreateTaskPushNotificationConfig stores it. */
  const addPushConfig = (taskId: string) =>
    db.query(
      `INSERT INTO a2a_push_configs (task_id, id, tenant_id, owner, agent, config, wire_version)
       VALUES ($1, 'cfg-1', 't', 'o', 'echo', $2::jsonb, '1.0')`,
      [taskId, JSON.stringify({ id: 'cfg-1', taskId, url: 'https://hooks.example.com/a2a' })],
    );
  let redis: Redis;
  let log: TaskEventLog;
  let rows: TaskWriteBuffer;
  let hub: TaskEventHub;

  beforeAll(async () => {
    db = await openTestDataSource();
    redis = new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) });
    const config = new ConfigService<PlatformConfig, true>({
      redis: { keyPrefix: `${process.env.REDIS_KEY_PREFIX}-event-log` },
      app: { instanceId: 'event-log-spec' },
    } as PlatformConfig);
    hub = new TaskEventHub(redis);
    log = new TaskEventLog(
      db,
      redis,
      config,
      new RunningTasksRegistry(redis, hub, config),
      (rows = new TaskWriteBuffer(db)),
      hub,
    );
  });

  afterAll(async () => {
    await log.onApplicationShutdown();
    await hub.onApplicationShutdown();
    await redis.quit();
    await db.destroy();
  });

  it('writes the task rows someone waits for with the events, in one statement that also finds the push configs', async () => {
    const [id, other] = [randomUUID(), randomUUID()];
    await addPushConfig(id);
    const statements = jest.spyOn(db, 'query');
    log.append(id, statusEvent(id));
    log.append(other, statusEvent(other));
    const written = rows.write(
      {
        id,
        tenantId: 't',
        owner: 'o',
        agent: 'echo',
        contextId: 'ctx',
        state: 'TASK_STATE_COMPLETED',
        statusTimestamp: new Date(),
        task: { id, contextId: 'ctx', status: { state: 'TASK_STATE_COMPLETED' } },
      },
      true,
      true,
    );
    const configs = log.pushConfigsOf(id);
    const none = log.pushConfigsOf(other);
    await Promise.all([written, log.flushTask(id), log.flushTask(other)]);
    expect(statements).toHaveBeenCalledTimes(1);
    statements.mockRestore();

    expect(await configs).toEqual([
      {
        tenant_id: 't',
        owner: 'o',
        agent: 'echo',
        wire_version: '1.0',
        config: expect.objectContaining({ id: 'cfg-1' }) as unknown,
      },
    ]);
    expect(await none).toEqual([]);
    expect(log.pushConfigsOf(id)).toBeUndefined();
    const stored = await db.query<Array<{ state: string }>>(
      'SELECT state FROM a2a_tasks WHERE id = $1',
      [id],
    );
    expect(stored).toEqual([{ state: 'TASK_STATE_COMPLETED' }]);
    expect((await log.read(id)).map((entry) => entry.seq)).toEqual([1]);
  });

  it("numbers each task's events in order and reads them back", async () => {
    const id = randomUUID();
    const stamps = ['a', 'b', 'c', 'd'];
    for (const stamp of stamps.slice(0, 3)) log.append(id, statusEvent(id, stamp));
    await log.flushTask(id);
    log.append(id, statusEvent(id, 'd'));
    await log.flushTask(id);
    // The events of one flush are one row, numbered by its last event.
    const runs = await db.query<Array<{ seq: number; count: number }>>(
      'SELECT seq, jsonb_array_length(events) AS count FROM a2a_task_events WHERE task_id = $1 ORDER BY seq',
      [id],
    );
    expect(runs).toEqual([
      { seq: 3, count: 3 },
      { seq: 4, count: 1 },
    ]);
    const stampOf = (entry: LoggedEvent) =>
      (entry.event as { statusUpdate: { status: { timestamp: string } } }).statusUpdate.status
        .timestamp;
    const all = await log.read(id);
    expect(all.map((entry) => entry.seq)).toEqual([1, 2, 3, 4]);
    expect(all.map(stampOf)).toEqual(
      stamps.map((stamp) => `2026-01-01T00:00:00.00${stamps.indexOf(stamp)}Z`),
    );
    // From inside a run: only the events after the number asked for.
    const later = await log.read(id, 1);
    expect(later.map((entry) => entry.seq)).toEqual([2, 3, 4]);
    expect(later.map(stampOf)).toEqual(all.slice(1).map(stampOf));
    expect((await log.read(id, 3)).map((entry) => entry.seq)).toEqual([4]);
  });

  describe('a task that starts and ends in one batch', () => {
    const completed = (id: string) => statusEvent(id, 'b', TaskState.TASK_STATE_COMPLETED);
    const runsOf = (id: string) =>
      db.query<Array<{ seq: number }>>(
        'SELECT seq FROM a2a_task_events WHERE task_id = $1 ORDER BY seq',
        [id],
      );

    it('is not logged nor announced; its push configs are still found', async () => {
      const id = randomUUID();
      await addPushConfig(id);
      const publishes = jest.spyOn(redis, 'pipeline');
      log.append(id, statusEvent(id, 'a'));
      log.append(id, completed(id));
      const configs = log.pushConfigsOf(id);
      await log.flushTask(id);
      expect(publishes).not.toHaveBeenCalled();
      publishes.mockRestore();
      expect(await configs).toEqual([expect.objectContaining({ agent: 'echo' })]);
      expect(await runsOf(id)).toEqual([]);
    });

    it('created here with its first event, has its events left out of the statement', async () => {
      const id = randomUUID();
      await addPushConfig(id);
      const statements = jest.spyOn(PreparedStatement.prototype, 'rows');
      log.append(id, statusEvent(id, 'a'), true);
      log.append(id, completed(id));
      const configs = log.pushConfigsOf(id);
      await log.flushTask(id);
      const sent = statements.mock.calls.map(([, values], call) => [
        (statements.mock.contexts[call] as PreparedStatement<unknown>).name,
        values[0],
      ]);
      statements.mockRestore();
      // No event to log in the batch: the statement that writes task rows only, given the ids.
      expect(sent).toEqual([['a2a.write-task-rows', [id]]]);
      expect(await configs).toEqual([expect.objectContaining({ agent: 'echo' })]);
      expect(await runsOf(id)).toEqual([]);
    });

    it('created here, is logged and sent in full when its batch does not end it', async () => {
      const [id, ended] = [randomUUID(), randomUUID()];
      const statements = jest.spyOn(PreparedStatement.prototype, 'rows');
      log.append(id, statusEvent(id, 'a'), true);
      log.append(ended, statusEvent(ended, 'a'), true);
      log.append(ended, completed(ended));
      await log.flushTask(id);
      // With an event to log, the batch's other tasks come as [taskId] alone.
      const [[, values]] = statements.mock.calls;
      statements.mockRestore();
      expect(JSON.parse(String(values[0]))).toEqual([[id, expect.any(Object)], [ended]]);
      log.append(id, completed(id));
      await log.flushTask(id);
      expect((await runsOf(id)).map((run) => run.seq)).toEqual([1, 2]);
    });

    it('is logged to its end once it has events logged before', async () => {
      const id = randomUUID();
      log.append(id, statusEvent(id, 'a'));
      await log.flushTask(id);
      log.append(id, completed(id));
      await log.flushTask(id);
      expect((await runsOf(id)).map((run) => run.seq)).toEqual([1, 2]);
    });

    it('is logged and announced while a follower in this process listens', async () => {
      const id = randomUUID();
      const heard: string[] = [];
      const stop = await hub.listen(log.channel(id), (message) => heard.push(message));
      try {
        log.append(id, statusEvent(id, 'a'));
        log.append(id, completed(id));
        await log.flushTask(id);
        expect((await log.read(id)).map((entry) => entry.seq)).toEqual([1, 2]);
        await waitFor(() => heard.length > 0);
        const announced = JSON.parse(heard[0]) as LoggedEvent[];
        expect(announced.map((entry) => entry.seq)).toEqual([1, 2]);
      } finally {
        stop();
      }
    });

    it('is logged when an event follows its end (the log keeps whatever the executor said)', async () => {
      const id = randomUUID();
      log.append(id, completed(id));
      log.append(id, statusEvent(id, 'c'));
      await log.flushTask(id);
      expect((await runsOf(id)).map((run) => run.seq)).toEqual([2]);
    });
  });

  it('writes what arrives while a flush is in flight with the next flush, one statement for all', async () => {
    const [first, second, third] = [randomUUID(), randomUUID(), randomUUID()];
    // Hold the first task's first sequence number: its flush stays in flight until released.
    const blocker = await holdFirstEvent(first);
    const statements = jest.spyOn(PreparedStatement.prototype, 'rows');
    const nextTurn = () => new Promise((resolve) => setImmediate(resolve));
    try {
      log.append(first, statusEvent(first));
      const firstWritten = log.flushTask(first);
      await nextTurn();
      log.append(second, statusEvent(second));
      await nextTurn();
      log.append(third, statusEvent(third));
      const othersWritten = Promise.all([log.flushTask(second), log.flushTask(third)]);
      await nextTurn();
      expect(statements).toHaveBeenCalledTimes(1);
      // The first flush is stuck: after a while the others go, together, beside it.
      await othersWritten;
      const sent = statements.mock.calls.map(([, values]) => String(values[0]));
      expect(sent).toHaveLength(2);
      expect(sent[1]).toContain(second);
      expect(sent[1]).toContain(third);
      await blocker.rollbackTransaction();
      await firstWritten;
    } finally {
      statements.mockRestore();
      if (blocker.isTransactionActive) await blocker.rollbackTransaction();
      await blocker.release();
    }
  });

  it("waits for its own task's writes only, not for another task's slow flush", async () => {
    const [slow, quick] = [randomUUID(), randomUUID()];
    // Hold the slow task's first sequence number in an open transaction: its flush blocks on it.
    const blocker = await holdFirstEvent(slow);
    try {
      log.append(slow, statusEvent(slow));
      const slowWritten = log.flushTask(slow);
      await waitForLockWait(db, 'INSERT INTO a2a_task_events');
      log.append(quick, statusEvent(quick));
      await log.flushTask(quick);
      expect((await log.read(quick)).map((entry) => entry.seq)).toEqual([1]);
      await blocker.rollbackTransaction();
      await slowWritten;
    } finally {
      if (blocker.isTransactionActive) await blocker.rollbackTransaction();
      await blocker.release();
    }
    expect((await log.read(slow)).map((entry) => entry.seq)).toEqual([1]);
  });
});
