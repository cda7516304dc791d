import { TaskState } from '@a2a-js/sdk';
import { ApiKeyRole } from '@app/persistence';
import { createApiKey } from '@app/security';
import {
  artifactsText,
  connectAgent,
  isTask,
  openTestDataSource,
  spawnApp,
  userMessage,
  type SpawnedApp,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

/** Two agent app processes on two ports, one PostgreSQL: any replica answers for any task. */
describe('agent app replicas', () => {
  let replicas: SpawnedApp[];
  let dataSource: DataSource;
  let key: string;

  beforeAll(async () => {
    const env = { AGENTS: 'math,echo', THROTTLE_MESSAGE_LIMIT: '20' };
    [replicas, dataSource] = await Promise.all([
      Promise.all([spawnApp('agent', env), spawnApp('agent', env)]),
      openTestDataSource(),
    ]);
    key = (
      await createApiKey(dataSource, {
        tenantId: `replicas-${randomUUID().slice(0, 8)}`,
        name: 'e2e',
        role: ApiKeyRole.Member,
      })
    ).key;
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

  it('the message budget of a tenant is shared by the replicas and answered in JSON-RPC shape', async () => {
    const { key } = await createApiKey(dataSource, {
      tenantId: `budget-${randomUUID().slice(0, 8)}`,
      name: 'e2e',
      role: ApiKeyRole.Member,
    });
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
