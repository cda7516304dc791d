import { TaskState, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { UnsupportedOperationError } from '@a2a-js/sdk/errors';
import {
  connectAgent,
  openTestDataSource,
  spawnApp,
  userData,
  userMessage,
  waitFor,
  type SpawnedApp,
  memberKey,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

/** SIGTERM: no new tasks, running executors finish within a budget, the rest stays resumable. */
describe('agent app graceful shutdown', () => {
  let dataSource: DataSource;
  let key: string;
  let survivor: SpawnedApp;
  const env = {
    AGENTS: 'slow,echo',
    REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-shutdown`,
  };

  const start = (client: Client, steps: number) =>
    client.sendMessage({
      tenant: '',
      message: userData({ steps, intervalMs: 100 }),
      configuration: {
        acceptedOutputModes: [],
        returnImmediately: true,
        taskPushNotificationConfig: undefined,
      },
      metadata: undefined,
    }) as Promise<Task>;

  const stored = async (taskId: string) => {
    const rows = await dataSource.query<Array<{ state: string; task: Task }>>(
      'SELECT state, task FROM a2a_tasks WHERE id = $1',
      [taskId],
    );
    return rows[0];
  };

  beforeAll(async () => {
    [dataSource, survivor] = await Promise.all([openTestDataSource(), spawnApp('agent', env)]);
    key = await memberKey(dataSource, `shutdown-${randomUUID().slice(0, 8)}`);
  });

  afterAll(async () => {
    await survivor?.stop();
    await dataSource?.destroy();
  });

  it('refuses new work, lets a running task finish, then exits 0', async () => {
    const app = await spawnApp('agent', { ...env, SHUTDOWN_TIMEOUT_MS: '15000' });
    const [slow, echo] = await Promise.all([
      connectAgent(`${app.url}/agents/slow`, key),
      connectAgent(`${app.url}/agents/echo`, key),
    ]);
    const task = await start(slow, 15);
    app.child.kill('SIGTERM');
    await waitFor(() => app.output().includes('running task(s)'), {
      what: 'the drain to begin',
    });
    await expect(
      echo.sendMessage({
        tenant: '',
        message: userMessage('too late'),
        configuration: undefined,
        metadata: undefined,
      }),
    ).rejects.toBeInstanceOf(UnsupportedOperationError);
    expect(await app.exited).toEqual({ code: 0, signal: null });
    expect(app.output()).toContain('All running tasks finished');
    const row = await stored(task.id);
    expect(row.state).toBe('TASK_STATE_COMPLETED');
  });

  it('leaves a task that outlasts the budget saved, and another instance continues it', async () => {
    // Budget: 7 s - 5 s kept for closing = 2 s, far less than the task's 10 s.
    const app = await spawnApp('agent', { ...env, SHUTDOWN_TIMEOUT_MS: '7000' });
    const slow = await connectAgent(`${app.url}/agents/slow`, key);
    const task = await start(slow, 100);
    await waitFor(async () => (await stored(task.id))?.state === 'TASK_STATE_WORKING', {
      what: 'the task to be working',
    });
    const stoppedAt = Date.now();
    await app.stop('SIGTERM');
    expect(Date.now() - stoppedAt).toBeLessThan(7_000);
    expect(app.output()).toContain('still running are left as saved');

    const other = await connectAgent(`${survivor.url}/agents/slow`, key);
    const left = await other.getTask({ tenant: '', id: task.id, historyLength: undefined });
    expect(left.status?.state).toBe(TaskState.TASK_STATE_WORKING);
    const progress = left.artifacts[0]?.parts.length ?? 0;
    expect(progress).toBeGreaterThan(0);
    expect(progress).toBeLessThan(100);

    // Resumed elsewhere: a message on the task runs it again to the end.
    const resumed = await other.sendMessage({
      tenant: '',
      message: userData(
        { steps: 2, intervalMs: 10 },
        { taskId: task.id, contextId: task.contextId },
      ),
      configuration: undefined,
      metadata: undefined,
    });
    expect((resumed as Task).id).toBe(task.id);
    expect((resumed as Task).status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
  });
});
