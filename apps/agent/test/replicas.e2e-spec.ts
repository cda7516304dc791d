import { TaskState, type StreamResponse, type Task } from '@a2a-js/sdk';
import {
  artifactsText,
  connectAgent,
  isTask,
  openTestDataSource,
  spawnApp,
  userData,
  userMessage,
  waitFor,
  type SpawnedApp,
  memberKey,
} from '@app/testing';
import { ApiKeyRole } from '@app/persistence';
import { createApiKey } from '@app/security';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

/** Two agent app processes on two ports, one PostgreSQL: any replica answers for any task. */
describe('agent app replicas', () => {
  let replicas: SpawnedApp[];
  let dataSource: DataSource;
  let key: string;

  beforeAll(async () => {
    const env = {
      AGENTS: 'math,echo,slow',
      THROTTLE_MESSAGE_LIMIT: '20',
      // Their own Redis prefix: the control channel and queues of these two replicas only.
      REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-replicas`,
    };
    [replicas, dataSource] = await Promise.all([
      Promise.all([spawnApp('agent', env), spawnApp('agent', env)]),
      openTestDataSource(),
    ]);
    key = await memberKey(dataSource, `replicas-${randomUUID().slice(0, 8)}`);
  });

  afterAll(async () => {
    await Promise.all(replicas.map((replica) => replica.stop()));
    await dataSource.destroy();
  });

  it('a task created through one replica is read and listed through the other', async () => {
    const [first, second] = await Promise.all(
      replicas.map((replica) => connectAgent(`${replica.url}/agents/math`, key)),
    );
    const contextId = randomUUID();
    const result = await first.sendMessage({
      tenant: '',
      message: userMessage('Calculate 12*12', { contextId }),
      configuration: undefined,
      metadata: undefined,
    });
    if (!isTask(result)) throw new Error('expected a task');

    const read = await second.getTask({ tenant: '', id: result.id });
    expect(read.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactsText(read)).toBe('144');

    const listed = await second.listTasks({
      tenant: '',
      contextId,
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageSize: 10,
      pageToken: '',
      statusTimestampAfter: undefined,
    });
    expect(listed.tasks.map((task) => task.id)).toEqual([result.id]);
  });

  it('a streaming task started on one replica is followed, replayed after a reconnect and canceled through the other', async () => {
    const [first, second] = await Promise.all(
      replicas.map((replica) => connectAgent(`${replica.url}/agents/slow`, key)),
    );
    const progressOf = (event: StreamResponse): string | undefined => {
      const payload = event.payload;
      if (payload?.$case !== 'artifactUpdate') return undefined;
      return payload.value.artifact?.parts
        .map((part) => (part.content?.$case === 'text' ? part.content.value : ''))
        .join('');
    };

    // Started on the first replica; its caller goes away after two events.
    const started = first.sendMessageStream({
      tenant: '',
      message: userData({ steps: 40, intervalMs: 100 }),
      configuration: undefined,
      metadata: undefined,
    });
    let task: Task | undefined;
    let seen = 0;
    for await (const event of started) {
      if (event.payload?.$case === 'task') task = event.payload.value;
      if (++seen === 2) break;
    }
    if (task === undefined) throw new Error('expected the task first');
    const taskId = task.id;

    // Followed through the second replica, then the follower disconnects.
    const followed: string[] = [];
    for await (const event of second.resubscribeTask({ tenant: '', id: taskId })) {
      const progress = progressOf(event);
      if (progress !== undefined) followed.push(progress);
      if (followed.length === 3) break;
    }
    expect(followed).toHaveLength(3);

    // Reconnected: the task as of now, then every later event exactly once, in order.
    const resumed = second.resubscribeTask({ tenant: '', id: taskId });
    const first_ = await resumed.next();
    const snapshot = first_.value as StreamResponse;
    if (snapshot.payload?.$case !== 'task') throw new Error('expected the task first');
    const progress = (snapshot.payload.value.artifacts[0]?.parts ?? []).map((part) =>
      part.content?.$case === 'text' ? part.content.value : '',
    );
    expect(progress.length).toBeGreaterThanOrEqual(3);
    expect(progress).toEqual(expect.arrayContaining(followed));
    const events: StreamResponse[] = [];
    for await (const event of resumed) {
      events.push(event);
      const text = progressOf(event);
      if (text !== undefined) progress.push(text);
      if (progress.length === 12) break;
    }
    expect(progress).toEqual(
      Array.from({ length: progress.length }, (_, index) => `step ${index + 1}/40\n`),
    );

    // Canceled through the second replica while the first one executes it.
    const following = second.resubscribeTask({ tenant: '', id: taskId });
    const tail: StreamResponse[] = [];
    const followingDone = (async () => {
      for await (const event of following) tail.push(event);
    })();
    await waitFor(() => tail.length > 1, { what: 'the follower to be live' });
    const canceled = await second.cancelTask({ tenant: '', id: taskId, metadata: undefined });
    expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    await followingDone;
    const last = tail.at(-1)?.payload;
    expect(last?.$case === 'statusUpdate' && last.value.status?.state).toBe(
      TaskState.TASK_STATE_CANCELED,
    );

    // The executor on the first replica stopped: nothing is added after the cancel.
    const after = await first.getTask({ tenant: '', id: taskId });
    await new Promise((resolve) => setTimeout(resolve, 500));
    const later = await first.getTask({ tenant: '', id: taskId });
    expect(later.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
    expect(later.artifacts[0]?.parts.length).toBe(after.artifacts[0]?.parts.length);
    expect(later.artifacts[0]?.parts.length).toBeLessThan(40);
  });

  it('a follower whose task ends elsewhere with nothing logged ends with the stored task', async () => {
    // A task that starts and ends in one batch leaves no events in the log, only its row.
    // A follower that saw it running (through its row) must still hear of its end.
    const tenantId = `replicas-end-${randomUUID().slice(0, 8)}`;
    const owner = await createApiKey(dataSource, {
      tenantId,
      name: 'e2e',
      role: ApiKeyRole.Member,
    });
    const [taskId, contextId] = [randomUUID(), randomUUID()];
    const wire = (state: string, artifacts: unknown[]) =>
      JSON.stringify({
        id: taskId,
        contextId,
        status: { state, timestamp: new Date().toISOString() },
        history: [],
        artifacts,
      });
    await dataSource.query(
      `INSERT INTO a2a_tasks (id, tenant_id, owner, agent, context_id, state, status_timestamp, task)
       VALUES ($1, $2, $3, 'echo', $4, 'TASK_STATE_WORKING', now(), $5::jsonb)`,
      [taskId, tenantId, owner.id, contextId, wire('TASK_STATE_WORKING', [])],
    );
    const client = await connectAgent(`${replicas[1].url}/agents/echo`, owner.key);
    const stream = client.resubscribeTask({ tenant: '', id: taskId });
    const first = (await stream.next()).value as StreamResponse;
    expect(first.payload?.$case === 'task' && first.payload.value.status?.state).toBe(
      TaskState.TASK_STATE_WORKING,
    );

    await dataSource.query(
      `UPDATE a2a_tasks SET state = 'TASK_STATE_COMPLETED', task = $2::jsonb WHERE id = $1`,
      [
        taskId,
        wire('TASK_STATE_COMPLETED', [
          { artifactId: 'a-1', name: 'echo', parts: [{ text: 'done' }] },
        ]),
      ],
    );
    const rest: StreamResponse[] = [];
    for await (const event of stream) rest.push(event);
    expect(rest).toHaveLength(1);
    const last = rest[0]?.payload;
    if (last?.$case !== 'task') throw new Error('expected the stored task');
    expect(last.value.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactsText(last.value)).toBe('done');
  });

  it('the message budget of a tenant is shared by the replicas and answered in JSON-RPC shape', async () => {
    const key = await memberKey(dataSource, `budget-${randomUUID().slice(0, 8)}`);
    const send = (replica: SpawnedApp) =>
      fetch(`${replica.url}/agents/echo/a2a/jsonrpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'a2a-version': '1.0', 'x-api-key': key },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 1,
          method: 'SendMessage',
          params: {
            message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text: 'hi' }] },
          },
        }),
      });
    const statuses = await Promise.all(
      Array.from({ length: 20 }, (_, i) => send(replicas[i % 2]).then((r) => r.status)),
    );
    expect(statuses.every((status) => status === 200)).toBe(true);
    const refused = await send(replicas[0]);
    expect(refused.status).toBe(429);
    expect(Number(refused.headers.get('retry-after'))).toBeGreaterThan(0);
    expect(await refused.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });

    // Reading is not sending: other operations still pass.
    const read = await fetch(`${replicas[1].url}/agents/echo/a2a/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'a2a-version': '1.0', 'x-api-key': key },
      body: JSON.stringify({ jsonrpc: '2.0', id: 2, method: 'ListTasks', params: {} }),
    });
    expect(read.status).toBe(200);
  });
});
