import { TaskPushNotificationConfig, TaskState, type Task } from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { TaskNotFoundError } from '@a2a-js/sdk/errors';
import {
  connectAgent,
  openTestDataSource,
  spawnApp,
  useIsolatedDatabase,
  userData,
  userMessage,
  waitFor,
  type SpawnedApp,
  memberKey,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';

useIsolatedDatabase('isolation');

/**
 * The tenant-isolation sweep: tenant B tries every operation of every app on
 * tenant A's objects (tasks, push configs, registrations, workflows, runs);
 * each attempt is "not found" (or 403) and changes nothing of A's.
 */
describe('tenant isolation sweep', () => {
  let registry: SpawnedApp;
  let agents: SpawnedApp;
  let orchestrator: SpawnedApp;
  let dataSource: DataSource;
  const keys = { a: '', b: '' };
  const tenants = {
    a: `iso-a-${randomUUID().slice(0, 8)}`,
    b: `iso-b-${randomUUID().slice(0, 8)}`,
  };
  const A = {
    task: undefined as unknown as Task,
    pushConfigId: '',
    registrationId: '',
    workflow: `iso-${randomUUID().slice(0, 8)}`,
    runId: '',
  };
  let slowA: Client;
  let slowB: Client;

  const call = async (
    app: SpawnedApp,
    who: 'a' | 'b',
    method: string,
    path: string,
    body?: unknown,
  ): Promise<{ status: number; body: Record<string, unknown> }> => {
    const response = await fetch(`${app.url}${path}`, {
      method,
      headers: {
        'x-api-key': keys[who],
        ...(body === undefined ? {} : { 'content-type': 'application/json' }),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    const text = await response.text();
    return {
      status: response.status,
      body: text ? (JSON.parse(text) as Record<string, unknown>) : {},
    };
  };

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    for (const who of ['a', 'b'] as const) {
      keys[who] = await memberKey(dataSource, tenants[who]);
    }
    const prefix = `${process.env.REDIS_KEY_PREFIX}-isolation`;
    registry = await spawnApp('registry', { REDIS_KEY_PREFIX: `${prefix}-registry` });
    [agents, orchestrator] = await Promise.all([
      spawnApp('agent', { AGENTS: 'slow,echo', REDIS_KEY_PREFIX: `${prefix}-agents` }),
      spawnApp('orchestrator', {
        REGISTRY_URL: registry.url,
        REDIS_KEY_PREFIX: `${prefix}-orchestrator`,
      }),
    ]);
    [slowA, slowB] = await Promise.all([
      connectAgent(`${agents.url}/agents/slow`, keys.a),
      connectAgent(`${agents.url}/agents/slow`, keys.b),
    ]);

    // Tenant A's objects, one of each kind.
    A.task = (await slowA.sendMessage({
      tenant: '',
      message: userData({ steps: 1, intervalMs: 0, askInput: true }),
      configuration: undefined,
      metadata: undefined,
    })) as Task;
    expect(A.task.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    A.pushConfigId = (
      await slowA.createTaskPushNotificationConfig(
        TaskPushNotificationConfig.fromJSON({
          taskId: A.task.id,
          url: 'https://hooks.example.com/a',
        }),
      )
    ).id;
    const registered = await call(registry, 'a', 'POST', '/agents', {
      cardUrl: `${agents.url}/agents/echo/.well-known/agent-card.json`,
    });
    expect(registered.status).toBe(201);
    A.registrationId = registered.body.id as string;
    expect(
      (
        await call(orchestrator, 'a', 'PUT', `/workflows/${A.workflow}`, {
          steps: [
            {
              id: 'ask',
              agentUrl: `${agents.url}/agents/slow`,
              input: { steps: 1, intervalMs: 0, askInput: true },
            },
          ],
        })
      ).status,
    ).toBe(200);
    const run = await call(orchestrator, 'a', 'POST', `/workflows/${A.workflow}/runs`, {
      wait: true,
    });
    A.runId = run.body.id as string;
    expect(run.body.status).toBe('waiting_input');
  });

  afterAll(async () => {
    await Promise.all([orchestrator?.stop(), agents?.stop(), registry?.stop()]);
    await dataSource?.destroy();
  });

  const notFound = async (attempt: Promise<unknown>) => {
    const outcome = await attempt.then(
      () => 'succeeded',
      (error: unknown) => error,
    );
    // The SDK's streaming client wraps the protocol error it read from the stream.
    const error =
      outcome instanceof TaskNotFoundError ? outcome : (outcome as { cause?: unknown }).cause;
    expect(error).toBeInstanceOf(TaskNotFoundError);
  };

  it("A2A: B can neither read, list, follow, continue, cancel nor configure A's task", async () => {
    const id = A.task.id;
    await notFound(slowB.getTask({ tenant: '', id, historyLength: undefined }));
    await notFound(slowB.cancelTask({ tenant: '', id, metadata: undefined }));
    await notFound(
      (async () => {
        for await (const event of slowB.resubscribeTask({ tenant: '', id })) void event;
      })(),
    );
    await notFound(
      slowB.sendMessage({
        tenant: '',
        message: userMessage('hijack', { taskId: id, contextId: A.task.contextId }),
        configuration: undefined,
        metadata: undefined,
      }),
    );
    await notFound(
      slowB.createTaskPushNotificationConfig(
        TaskPushNotificationConfig.fromJSON({ taskId: id, url: 'https://hooks.example.com/b' }),
      ),
    );
    await notFound(
      slowB.getTaskPushNotificationConfig({ tenant: '', taskId: id, id: A.pushConfigId }),
    );
    await notFound(
      slowB.listTaskPushNotificationConfig({ tenant: '', taskId: id, pageSize: 10, pageToken: '' }),
    );
    await slowB
      .deleteTaskPushNotificationConfig({ tenant: '', taskId: id, id: A.pushConfigId })
      .catch((error: unknown) => expect(error).toBeInstanceOf(TaskNotFoundError));
    const listed = await slowB.listTasks({
      tenant: '',
      contextId: A.task.contextId,
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageSize: 100,
      pageToken: '',
      statusTimestampAfter: undefined,
      historyLength: undefined,
      includeArtifacts: undefined,
    });
    expect(listed.tasks).toEqual([]);

    // Nothing of A's changed.
    const after = await slowA.getTask({ tenant: '', id, historyLength: undefined });
    expect(after.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
    const configs = await slowA.listTaskPushNotificationConfig({
      tenant: '',
      taskId: id,
      pageSize: 10,
      pageToken: '',
    });
    expect(configs.configs.map((config) => config.id)).toEqual([A.pushConfigId]);
    // Push deliveries are for admins only.
    expect((await call(agents, 'b', 'GET', '/admin/push-deliveries')).status).toBe(403);
  });

  it("registry: B can neither see, discover, heartbeat nor remove A's registration", async () => {
    const id = A.registrationId;
    expect((await call(registry, 'b', 'GET', `/agents/${id}`)).status).toBe(404);
    expect((await call(registry, 'b', 'PUT', `/agents/${id}/heartbeat`)).status).toBe(404);
    expect((await call(registry, 'b', 'DELETE', `/agents/${id}`)).status).toBe(404);
    const listed = await call(registry, 'b', 'GET', '/agents?limit=100');
    expect(JSON.stringify(listed.body)).not.toContain(id);
    const bySkill = await call(registry, 'b', 'GET', '/agents?skill=echo');
    expect(JSON.stringify(bySkill.body)).not.toContain(id);
    expect((await call(registry, 'b', 'GET', '/agents/resolve?skill=echo')).status).toBe(404);

    const still = await call(registry, 'a', 'GET', `/agents/${id}`);
    expect(still.status).toBe(200);
    await waitFor(
      async () => (await call(registry, 'a', 'GET', '/agents/resolve?skill=echo')).status === 200,
      {
        what: "A's instance to be discoverable by A",
      },
    );
  });

  it("orchestrator: B can neither read, run, list, resume nor cancel A's workflow and run", async () => {
    expect((await call(orchestrator, 'b', 'GET', `/workflows/${A.workflow}`)).status).toBe(404);
    expect(
      (await call(orchestrator, 'b', 'POST', `/workflows/${A.workflow}/runs`, {})).status,
    ).toBe(404);
    expect((await call(orchestrator, 'b', 'GET', `/runs/${A.runId}`)).status).toBe(404);
    expect(
      (await call(orchestrator, 'b', 'POST', `/runs/${A.runId}/input`, { text: 'x' })).status,
    ).toBe(404);
    expect((await call(orchestrator, 'b', 'POST', `/runs/${A.runId}/cancel`)).status).toBe(404);
    const runs = await call(orchestrator, 'b', 'GET', '/runs');
    expect(JSON.stringify(runs.body)).not.toContain(A.runId);
    const workflows = await call(orchestrator, 'b', 'GET', '/workflows');
    expect(JSON.stringify(workflows.body)).not.toContain(A.workflow);

    // B saving a workflow of the same name makes B's own, and leaves A's alone.
    const own = await call(orchestrator, 'b', 'PUT', `/workflows/${A.workflow}`, {
      steps: [{ id: 'x', agentUrl: `${agents.url}/agents/echo`, input: 'b' }],
    });
    expect(own.status).toBe(200);
    expect(own.body.version).toBe(1);
    const mine = await call(orchestrator, 'a', 'GET', `/workflows/${A.workflow}`);
    expect(mine.body.version).toBe(1);
    expect(JSON.stringify(mine.body)).toContain('askInput');

    const run = await call(orchestrator, 'a', 'GET', `/runs/${A.runId}`);
    expect(run.body.status).toBe('waiting_input');
  });
});
