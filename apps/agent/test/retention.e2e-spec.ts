import { TaskPushNotificationConfig, TaskState, type Message, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import type { PushDeliveryView } from '@app/a2a';
import {
  connectAgent,
  isTask,
  memberKey as newMemberKey,
  openTestDataSource,
  spawnApp,
  userData,
  waitFor,
  type SpawnedApp,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { DataSource } from 'typeorm';

const ADMIN_KEY = 'dev-local-key';
const HOUR = 3_600;

describe('retention of what finished tasks leave behind', () => {
  let app: SpawnedApp;
  let dataSource: DataSource;
  let slow: Client;
  let webhook: Server;
  let webhookUrl = '';

  const eventCount = async (taskId: string): Promise<number> => {
    const rows = await dataSource.query<Array<{ count: number }>>(
      'SELECT coalesce(sum(jsonb_array_length(events)), 0)::int AS count FROM a2a_task_events WHERE task_id = $1',
      [taskId],
    );
    return rows[0].count;
  };
  const taskExists = async (taskId: string): Promise<boolean> =>
    (await dataSource.query<unknown[]>('SELECT 1 FROM a2a_tasks WHERE id = $1', [taskId])).length >
    0;
  /** Moves a task's last write into the past, as if that much time had gone by. */
  const age = (taskId: string, seconds: number) =>
    dataSource.query(
      `UPDATE a2a_tasks SET updated_at = now() - make_interval(secs => $2) WHERE id = $1`,
      [taskId, seconds],
    );
  const failedDeliveries = async (taskId: string): Promise<PushDeliveryView[]> => {
    const response = await fetch(`${app.url}/admin/push-deliveries?state=failed&limit=500`, {
      headers: { 'x-api-key': ADMIN_KEY },
    });
    const body = (await response.json()) as { deliveries: PushDeliveryView[] };
    return body.deliveries.filter((delivery) => delivery.taskId === taskId);
  };
  /** A task that runs over several turns, so that its events are logged (see TaskEventLog). */
  const twoSteps = () => userData({ steps: 2, intervalMs: 20 });
  const finished = async (client: Client, message: Message, pushUrl?: string): Promise<Task> => {
    const result = await client.sendMessage({
      tenant: '',
      message,
      configuration: {
        acceptedOutputModes: [],
        returnImmediately: false,
        taskPushNotificationConfig: pushUrl
          ? TaskPushNotificationConfig.fromJSON({ url: pushUrl })
          : undefined,
      },
      metadata: undefined,
    });
    if (!isTask(result)) throw new Error('expected a task');
    // The event log is written behind the reply: wait until it is all there.
    await waitFor(async () => (await eventCount(result.id)) >= 3, {
      what: `the events of task ${result.id}`,
    });
    return result;
  };

  beforeAll(async () => {
    webhook = createServer((request, response) => {
      request.resume();
      request.on('end', () => response.writeHead(500).end());
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const port = (webhook.address() as AddressInfo).port;
    webhookUrl = `http://127.0.0.1:${port}/hook`;
    [app, dataSource] = await Promise.all([
      spawnApp('agent', {
        AGENTS: 'slow',
        // Its own queues: no other test's agent app sweeps or delivers these jobs.
        REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-retention`,
        PUSH_ALLOWED_HOSTS: `127.0.0.1:${port}`,
        PUSH_ATTEMPTS: '1',
        PUSH_FAILED_RETENTION_SECONDS: '2',
        A2A_TASK_EVENTS_RETENTION_SECONDS: String(HOUR),
        A2A_TASKS_RETENTION_SECONDS: String(2 * HOUR),
        A2A_RETENTION_INTERVAL_SECONDS: '1',
      }),
      openTestDataSource(),
    ]);
    const key = await newMemberKey(dataSource, `retention-${randomUUID().slice(0, 8)}`);
    slow = await connectAgent(`${app.url}/agents/slow`, key);
  });

  afterAll(async () => {
    await app?.stop();
    await Promise.all([
      dataSource?.destroy(),
      new Promise<void>((resolve) => webhook?.close(() => resolve()) ?? resolve()),
    ]);
  });

  it('drops the events of long-finished tasks, then the tasks themselves, and never touches live ones', async () => {
    const recent = await finished(slow, twoSteps());
    const eventsExpired = await finished(slow, twoSteps());
    const taskExpired = await finished(slow, twoSteps());
    await slow.createTaskPushNotificationConfig(
      TaskPushNotificationConfig.fromJSON({ taskId: taskExpired.id, url: webhookUrl }),
    );
    const waiting = await slow.sendMessage({
      tenant: '',
      message: userData({ askInput: true, steps: 1, intervalMs: 0 }),
      configuration: {
        acceptedOutputModes: [],
        returnImmediately: false,
        taskPushNotificationConfig: undefined,
      },
      metadata: undefined,
    });
    if (!isTask(waiting)) throw new Error('expected a task');
    expect(waiting.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    await waitFor(async () => (await eventCount(waiting.id)) >= 3, {
      what: 'the events of the waiting task',
    });
    const waitingEvents = await eventCount(waiting.id);
    const recentEvents = await eventCount(recent.id);

    await age(eventsExpired.id, 1.5 * HOUR);
    await age(taskExpired.id, 3 * HOUR);
    // An unfinished task keeps everything, however old.
    await age(waiting.id, 3 * HOUR);

    await waitFor(async () => !(await taskExists(taskExpired.id)), {
      what: 'the task finished three hours ago to be deleted',
    });
    await waitFor(async () => (await eventCount(eventsExpired.id)) === 0, {
      what: 'the events of the task finished 90 minutes ago to be deleted',
    });
    expect(await eventCount(taskExpired.id)).toBe(0);
    const configs = await dataSource.query<unknown[]>(
      'SELECT 1 FROM a2a_push_configs WHERE task_id = $1',
      [taskExpired.id],
    );
    expect(configs).toEqual([]);
    await expect(
      slow.getTask({ tenant: '', id: taskExpired.id, historyLength: undefined }),
    ).rejects.toThrow(/not found/i);

    // The task whose events went is still there, whole.
    const kept = await slow.getTask({ tenant: '', id: eventsExpired.id, historyLength: undefined });
    expect(kept.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(kept.artifacts.length).toBeGreaterThan(0);
    expect(await eventCount(recent.id)).toBe(recentEvents);
    expect(await taskExists(waiting.id)).toBe(true);
    expect(await eventCount(waiting.id)).toBe(waitingEvents);

    const metrics = await (await fetch(`${app.url}/metrics`)).text();
    const deleted = (kind: string) =>
      Number(
        new RegExp(`^a2a_retention_deleted_total\\{[^}]*kind="${kind}"[^}]*\\} (\\d+)`, 'm').exec(
          metrics,
        )?.[1] ?? 0,
      );
    expect(deleted('tasks')).toBeGreaterThanOrEqual(1);
    expect(deleted('task_events')).toBeGreaterThanOrEqual(3);
  });

  it('lists only deliveries, never the sweep that shares their queue', async () => {
    // The sweep's next run waits as a delayed job on the push delivery queue.
    const response = await fetch(`${app.url}/admin/push-deliveries?state=delayed&limit=500`, {
      headers: { 'x-api-key': ADMIN_KEY },
    });
    const { deliveries } = (await response.json()) as { deliveries: PushDeliveryView[] };
    expect(deliveries.filter((delivery) => typeof delivery.taskId !== 'string')).toEqual([]);
  });

  it('keeps a failed push delivery visible, then removes it once its retention has passed', async () => {
    const task = await finished(slow, twoSteps(), webhookUrl);
    let failed: PushDeliveryView[] = [];
    await waitFor(
      async () => {
        failed = await failedDeliveries(task.id);
        return failed.length > 0;
      },
      { what: 'a delivery to fail its only attempt' },
    );
    expect(failed[0].failedReason).toBe('Webhook answered HTTP 500');
    await waitFor(async () => (await failedDeliveries(task.id)).length === 0, {
      what: 'the failed deliveries to be removed after 2 s',
    });
  });
});
