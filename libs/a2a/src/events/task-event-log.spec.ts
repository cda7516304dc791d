import { type StreamResponse, TaskState } from '@a2a-js/sdk';
import type { PlatformConfig } from '@app/config';
import { openTestDataSource, waitForLockWait } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { ConfigService } from '@nestjs/config';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { RunningTasksRegistry } from './running-tasks.registry.js';
import { TaskEventHub } from './task-event-hub.js';
import { TaskEventLog } from './task-event-log.js';

function statusEvent(taskId: string): StreamResponse {
  return {
    payload: {
      $case: 'statusUpdate',
      value: {
        taskId,
        contextId: 'ctx',
        status: {
          state: TaskState.TASK_STATE_WORKING,
          message: undefined,
          timestamp: new Date().toISOString(),
        },
        metadata: undefined,
      },
    },
  };
}

describe('TaskEventLog (real PostgreSQL and Redis)', () => {
  let db: DataSource;
  let redis: Redis;
  let log: TaskEventLog;

  beforeAll(async () => {
    db = await openTestDataSource();
    redis = new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) });
    const config = new ConfigService<PlatformConfig, true>({
      redis: { keyPrefix: `${process.env.REDIS_KEY_PREFIX}-event-log` },
      app: { instanceId: 'event-log-spec' },
    } as PlatformConfig);
    log = new TaskEventLog(
      db,
      redis,
      config,
      new RunningTasksRegistry(redis, new TaskEventHub(redis), config),
    );
  });

  afterAll(async () => {
    await log.onApplicationShutdown();
    await redis.quit();
    await db.destroy();
  });

  it("numbers each task's events in order and reads them back", async () => {
    const id = randomUUID();
    for (let n = 0; n < 3; n++) log.append(id, statusEvent(id));
    await log.flushTask(id);
    log.append(id, statusEvent(id));
    await log.flushTask(id);
    expect((await log.read(id)).map((entry) => entry.seq)).toEqual([1, 2, 3, 4]);
    expect((await log.read(id, 2)).map((entry) => entry.seq)).toEqual([3, 4]);
  });

  it("waits for its own task's writes only, not for another task's slow flush", async () => {
    const [slow, quick] = [randomUUID(), randomUUID()];
    // Hold the slow task's first sequence number in an open transaction: its flush blocks on it.
    const blocker = db.createQueryRunner();
    await blocker.connect();
    await blocker.startTransaction();
    await blocker.query(
      `INSERT INTO a2a_task_events (task_id, seq, event) VALUES ($1, 1, '{}'::jsonb)`,
      [slow],
    );
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
