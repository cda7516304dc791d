import {
  AgentCard,
  TaskPushNotificationConfig,
  TaskState,
  type StreamResponse,
  type Task,
} from '@a2a-js/sdk';
import type { Client } from '@a2a-js/sdk/client';
import { LegacyJsonRpcTransport } from '@a2a-js/sdk/compat/v0_3/client';
import {
  isJsonRpcError,
  isRestError,
  TaskNotCancelableError,
  TaskNotFoundError,
} from '@a2a-js/sdk/errors';
import { ApiKeyRole } from '@app/persistence';
import { ApiKeyService } from '@app/security';
import {
  artifactsText,
  connectAgent,
  fetchWithKey,
  isTask,
  partsText,
  startTestApp,
  testConfig,
  userData,
  userMessage,
  waitFor,
  type TestApp,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AgentModule } from '../src/agent.module.js';

const KEY = 'dev-local-key';

/** The SDK client reports an error inside an SSE stream as a plain Error whose cause is the A2A error. */
const notFoundError = (error: unknown) =>
  error instanceof TaskNotFoundError ? error : (error as { cause?: unknown } | undefined)?.cause;

/** The code a binding put on the wire: the JSON-RPC error code, or the HTTP status. */
const wireCode = (error: unknown) =>
  isJsonRpcError(error) ? error.envelopeCode : isRestError(error) ? error.statusCode : undefined;

/** The parts of wire answers these tests read. */
interface WireTask {
  id: string;
  kind?: string;
  status?: { state: string };
  artifacts: Array<{ parts: unknown[] }>;
}
interface RpcBody {
  jsonrpc: string;
  id: string | number | null;
  result?: WireTask & Record<string, unknown>;
  error?: { code: number; message: string };
}
interface WireCard {
  name: string;
  supportedInterfaces: unknown[];
  securitySchemes: Record<string, Record<string, Record<string, string>>>;
  skills: Array<{ id: string }>;
}

describe('agent app over A2A', () => {
  let platform: TestApp;
  let jsonRpcMath: Client;
  let otherTenantKey: string;

  const base = (agent: string) => `${platform.url}/agents/${agent}`;
  const rpc = async (
    agent: string,
    body: unknown,
    headers: Record<string, string> = { 'a2a-version': '1.0' },
    key = KEY,
  ) => {
    const response = await fetch(`${base(agent)}/a2a/jsonrpc`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${key}`, ...headers },
      body: typeof body === 'string' ? body : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as RpcBody };
  };
  const send = (client: Client, message = userMessage('hello'), returnImmediately = false) =>
    client.sendMessage({
      tenant: '',
      message,
      configuration: {
        acceptedOutputModes: [],
        taskPushNotificationConfig: undefined,
        returnImmediately,
      },
      metadata: undefined,
    });
  const sendTask = async (client: Client, message = userMessage('hello')) => {
    const result = await send(client, message);
    if (!isTask(result)) throw new Error('expected a task');
    return result;
  };
  const collect = async (stream: AsyncGenerator<StreamResponse>) => {
    const events: StreamResponse[] = [];
    for await (const event of stream) events.push(event);
    return events;
  };

  beforeAll(async () => {
    const config = testConfig('agent', {
      AGENTS: 'echo,math,language,slow',
      // The test's webhook listens on loopback; its deliveries stay on this app's own queue.
      PUSH_ALLOWED_HOSTS: '127.0.0.1',
      REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-a2a`,
      PUSH_BACKOFF_MS: '100',
    });
    platform = await startTestApp(AgentModule.register(config), config);
    jsonRpcMath = await connectAgent(base('math'), KEY, 'JSONRPC');
    otherTenantKey = (
      await platform.app.get(ApiKeyService).createKey({
        tenantId: `other-${randomUUID().slice(0, 8)}`,
        name: 'e2e',
        role: ApiKeyRole.Member,
      })
    ).key;
  });

  afterAll(async () => {
    await platform.close();
  });

  describe('agent card', () => {
    it('is public, in wire form, lists both bindings (and v0.3 JSON-RPC) and the security schemes', async () => {
      const response = await fetch(`${base('math')}/.well-known/agent-card.json`);
      expect(response.status).toBe(200);
      expect(response.headers.get('cache-control')).toMatch(/max-age=\d+/);
      const card = (await response.json()) as WireCard;
      expect(card.name).toBe('Math Agent');
      expect(card.supportedInterfaces).toEqual([
        { url: `${base('math')}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
        { url: `${base('math')}/a2a/rest`, protocolBinding: 'HTTP+JSON', protocolVersion: '1.0' },
        { url: `${base('math')}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', protocolVersion: '0.3' },
      ]);
      expect(card.securitySchemes.bearer.httpAuthSecurityScheme.scheme).toBe('Bearer');
      expect(card.securitySchemes.apiKey.apiKeySecurityScheme).toMatchObject({
        location: 'header',
        name: 'X-API-Key',
      });
      expect(JSON.stringify(card)).not.toContain('$case');
      expect(card.skills.map((skill) => skill.id)).toEqual(['calculate', 'algebra']);
      expect(() => AgentCard.fromJSON(card)).not.toThrow();
    });

    it('answers 304 to a matching If-None-Match', async () => {
      const first = await fetch(`${base('echo')}/.well-known/agent-card.json`);
      const etag = first.headers.get('etag');
      expect(etag).toMatch(/^".+"$/);
      const second = await fetch(`${base('echo')}/.well-known/agent-card.json`, {
        headers: { 'if-none-match': etag! },
      });
      expect(second.status).toBe(304);
      expect(await second.text()).toBe('');
    });

    it('is 404 for an agent this app does not serve', async () => {
      expect((await fetch(`${base('nope')}/.well-known/agent-card.json`)).status).toBe(404);
    });

    it('the extended card needs credentials and comes back for a valid key', async () => {
      const { status, body } = await rpc('math', {
        jsonrpc: '2.0',
        id: 1,
        method: 'GetExtendedAgentCard',
        params: {},
      });
      expect(status).toBe(200);
      expect(body.result).toMatchObject({
        name: 'Math Agent',
        capabilities: { extendedAgentCard: true },
      });
      const anonymous = await fetch(`${base('math')}/a2a/jsonrpc`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ jsonrpc: '2.0', id: 1, method: 'GetExtendedAgentCard', params: {} }),
      });
      expect(anonymous.status).toBe(401);
      expect(await anonymous.json()).toMatchObject({ jsonrpc: '2.0', error: { code: -32600 } });
    });
  });

  describe.each(['JSONRPC', 'HTTP+JSON'] as const)(
    'operations over %s, with the SDK client',
    (binding) => {
      let math: Client;
      let echo: Client;
      let slow: Client;
      let language: Client;

      beforeAll(async () => {
        [math, echo, slow, language] = await Promise.all(
          ['math', 'echo', 'slow', 'language'].map((agent) =>
            connectAgent(base(agent), KEY, binding),
          ),
        );
        expect(math.transport.protocolName).toBe(binding);
      });

      it('GetExtendedAgentCard: the SDK client fetches the extended card for an authenticated caller', async () => {
        const card = await math.getAgentCard();
        expect(card.name).toBe('Math Agent');
        expect(card.capabilities?.extendedAgentCard).toBe(true);
        expect(card.supportedInterfaces.map((entry) => entry.protocolBinding)).toContain(binding);
      });

      describe('SendMessage', () => {
        it('blocking: the math agent completes a task with the result as text and data', async () => {
          const task = await sendTask(math, userMessage('Calculate 2+2'));
          expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
          expect(artifactsText(task)).toBe('4');
          const data = task.artifacts[0].parts.find((part) => part.content?.$case === 'data');
          expect(data?.content?.value).toMatchObject({ expression: '2+2', result: '4' });
        });

        it('the language agent explains a result in French', async () => {
          const task = await sendTask(
            language,
            userData({ language: 'fr', expression: '2+2', result: '4' }),
          );
          expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
          expect(artifactsText(task)).toContain('français');
          expect(artifactsText(task)).toContain('4');
        });

        it('a message reply comes back as a Message', async () => {
          const result = await send(echo, userMessage('ping'));
          if (isTask(result)) throw new Error('expected a message');
          expect(partsText(result.parts)).toBe('ping');
        });

        it('returnImmediately answers before the work is done; GetTask sees it finish', async () => {
          const result = await send(slow, userData({ steps: 3, intervalMs: 150 }), true);
          expect(isTask(result)).toBe(true);
          const task = result as Task;
          expect([TaskState.TASK_STATE_SUBMITTED, TaskState.TASK_STATE_WORKING]).toContain(
            task.status?.state,
          );
          await waitFor(
            async () =>
              (await slow.getTask({ tenant: '', id: task.id })).status?.state ===
              TaskState.TASK_STATE_COMPLETED,
            {
              what: 'the slow task to complete',
            },
          );
          const done = await slow.getTask({ tenant: '', id: task.id });
          expect(artifactsText(done)).toBe('step 1/3\nstep 2/3\nstep 3/3\n');
        });
      });

      it('SendStreamingMessage streams the task, progress and the final state', async () => {
        const events = await collect(
          slow.sendMessageStream({
            tenant: '',
            message: userData({ steps: 3, intervalMs: 50 }),
            configuration: undefined,
            metadata: undefined,
          }),
        );
        const kinds = events.map((event) => event.payload?.$case);
        expect(kinds[0]).toBe('task');
        expect(kinds.filter((kind) => kind === 'artifactUpdate')).toHaveLength(3);
        const last = events.at(-1)?.payload;
        expect(last?.$case).toBe('statusUpdate');
        expect(last?.$case === 'statusUpdate' && last.value.status?.state).toBe(
          TaskState.TASK_STATE_COMPLETED,
        );
      });

      it('GetTask honours historyLength', async () => {
        const task = await sendTask(math, userMessage('Calculate 6*7'));
        expect((await math.getTask({ tenant: '', id: task.id })).history.length).toBe(2);
        expect(
          (await math.getTask({ tenant: '', id: task.id, historyLength: 1 })).history.length,
        ).toBe(1);
        expect((await math.getTask({ tenant: '', id: task.id, historyLength: 0 })).history).toEqual(
          [],
        );
      });

      it('ListTasks pages newest first and filters by context and state', async () => {
        const contextId = randomUUID();
        const created: string[] = [];
        for (let i = 0; i < 3; i++) {
          created.push(
            (
              await sendTask(
                echo,
                userMessage(`item ${i}`, { contextId, metadata: { reply: 'task' } }),
              )
            ).id,
          );
        }
        const first = await echo.listTasks({
          tenant: '',
          contextId,
          status: TaskState.TASK_STATE_UNSPECIFIED,
          pageSize: 2,
          pageToken: '',
          statusTimestampAfter: undefined,
        });
        expect(first.tasks.map((task) => task.id)).toEqual([created[2], created[1]]);
        expect(first.totalSize).toBe(3);
        expect(first.nextPageToken).not.toBe('');
        const second = await echo.listTasks({
          tenant: '',
          contextId,
          status: TaskState.TASK_STATE_UNSPECIFIED,
          pageSize: 2,
          pageToken: first.nextPageToken,
          statusTimestampAfter: undefined,
        });
        expect(second.tasks.map((task) => task.id)).toEqual([created[0]]);
        expect(second.nextPageToken).toBe('');
        const completed = await echo.listTasks({
          tenant: '',
          contextId,
          status: TaskState.TASK_STATE_COMPLETED,
          pageSize: 10,
          pageToken: '',
          statusTimestampAfter: undefined,
        });
        expect(completed.tasks).toHaveLength(3);
        const working = await echo.listTasks({
          tenant: '',
          contextId,
          status: TaskState.TASK_STATE_WORKING,
          pageSize: 10,
          pageToken: '',
          statusTimestampAfter: undefined,
        });
        expect(working.tasks).toHaveLength(0);
      });

      it('CancelTask stops a running task; a finished or unknown one gets the protocol error', async () => {
        const running = (await send(slow, userData({ steps: 50, intervalMs: 100 }), true)) as Task;
        await waitFor(
          async () =>
            (await slow.getTask({ tenant: '', id: running.id })).status?.state ===
            TaskState.TASK_STATE_WORKING,
        );
        const canceled = await slow.cancelTask({ tenant: '', id: running.id, metadata: undefined });
        expect(canceled.status?.state).toBe(TaskState.TASK_STATE_CANCELED);
        await expect(
          slow.cancelTask({ tenant: '', id: running.id, metadata: undefined }),
        ).rejects.toBeInstanceOf(TaskNotCancelableError);

        const finished = await sendTask(math, userMessage('Calculate 1+1'));
        const error = await math
          .cancelTask({ tenant: '', id: finished.id, metadata: undefined })
          .catch((caught: unknown) => caught);
        expect(error).toBeInstanceOf(TaskNotCancelableError);
        expect(wireCode(error)).toBe(binding === 'JSONRPC' ? -32002 : 400);

        const missing = await math
          .cancelTask({ tenant: '', id: randomUUID(), metadata: undefined })
          .catch((caught: unknown) => caught);
        expect(missing).toBeInstanceOf(TaskNotFoundError);
        expect(wireCode(missing)).toBe(binding === 'JSONRPC' ? -32001 : 404);
      });

      it('SubscribeToTask sends the current task, then the rest of its events', async () => {
        const running = (await send(slow, userData({ steps: 4, intervalMs: 150 }), true)) as Task;
        const events = await collect(slow.resubscribeTask({ tenant: '', id: running.id }));
        expect(events[0].payload?.$case).toBe('task');
        const last = events.at(-1)?.payload;
        expect(last?.$case === 'statusUpdate' && last.value.status?.state).toBe(
          TaskState.TASK_STATE_COMPLETED,
        );
      });

      it('INPUT_REQUIRED pauses the task and a follow-up message on it completes it', async () => {
        const paused = await sendTask(slow, userData({ steps: 1, intervalMs: 10, askInput: true }));
        expect(paused.status?.state).toBe(TaskState.TASK_STATE_INPUT_REQUIRED);
        expect(partsText(paused.status?.message?.parts ?? [])).toContain(
          'What should the report be called?',
        );
        const done = await sendTask(
          slow,
          userMessage('Quarterly', { taskId: paused.id, contextId: paused.contextId }),
        );
        expect(done.id).toBe(paused.id);
        expect(done.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
        expect(artifactsText(done)).toContain('Report named "Quarterly"');
      });

      it('push notification configs: create, get, list, delete', async () => {
        const task = await sendTask(math, userMessage('Calculate 5-3'));
        const created = await math.createTaskPushNotificationConfig(
          TaskPushNotificationConfig.fromJSON({
            taskId: task.id,
            url: 'https://hooks.example.com/a2a',
            token: 'secret-token',
          }),
        );
        expect(created.id).not.toBe('');
        const fetched = await math.getTaskPushNotificationConfig({
          tenant: '',
          taskId: task.id,
          id: created.id,
        });
        expect(fetched).toMatchObject({
          url: 'https://hooks.example.com/a2a',
          token: 'secret-token',
          taskId: task.id,
        });
        const listed = await math.listTaskPushNotificationConfig({
          tenant: '',
          taskId: task.id,
          pageSize: 0,
          pageToken: '',
        });
        expect(listed.configs.map((config) => config.id)).toEqual([created.id]);
        await math.deleteTaskPushNotificationConfig({
          tenant: '',
          taskId: task.id,
          id: created.id,
        });
        const after = await math.listTaskPushNotificationConfig({
          tenant: '',
          taskId: task.id,
          pageSize: 0,
          pageToken: '',
        });
        expect(after.configs).toEqual([]);
        await expect(
          math.getTaskPushNotificationConfig({ tenant: '', taskId: task.id, id: created.id }),
        ).rejects.toBeInstanceOf(TaskNotFoundError);
      });

      describe('tenancy', () => {
        it("another tenant's key finds none of this tenant's tasks, whatever the operation", async () => {
          const task = await sendTask(math, userMessage('Calculate 7*6'));
          const intruder = await connectAgent(base('math'), otherTenantKey, binding);
          await expect(intruder.getTask({ tenant: '', id: task.id })).rejects.toBeInstanceOf(
            TaskNotFoundError,
          );
          await expect(
            intruder.cancelTask({ tenant: '', id: task.id, metadata: undefined }),
          ).rejects.toBeInstanceOf(TaskNotFoundError);
          await expect(
            intruder.createTaskPushNotificationConfig(
              TaskPushNotificationConfig.fromJSON({
                taskId: task.id,
                url: 'https://evil.example.com',
              }),
            ),
          ).rejects.toBeInstanceOf(TaskNotFoundError);
          await expect(
            intruder.listTaskPushNotificationConfig({
              tenant: '',
              taskId: task.id,
              pageSize: 0,
              pageToken: '',
            }),
          ).rejects.toBeInstanceOf(TaskNotFoundError);
          const listed = await intruder.listTasks({
            tenant: '',
            contextId: task.contextId,
            status: TaskState.TASK_STATE_UNSPECIFIED,
            pageSize: 50,
            pageToken: '',
            statusTimestampAfter: undefined,
          });
          expect(listed.tasks).toEqual([]);
          const subscribed = await collect(
            intruder.resubscribeTask({ tenant: '', id: task.id }),
          ).catch((caught: unknown) => caught);
          expect(notFoundError(subscribed)).toBeInstanceOf(TaskNotFoundError);
          await expect(
            send(
              intruder,
              userMessage('Calculate 1+1', { taskId: task.id, contextId: task.contextId }),
            ),
          ).rejects.toBeInstanceOf(TaskNotFoundError);
          expect((await math.getTask({ tenant: '', id: task.id })).status?.state).toBe(
            TaskState.TASK_STATE_COMPLETED,
          );
        });

        it('a task of one agent is not found through another agent', async () => {
          const task = await sendTask(math, userMessage('Calculate 2*2'));
          await expect(echo.getTask({ tenant: '', id: task.id })).rejects.toBeInstanceOf(
            TaskNotFoundError,
          );
        });
      });
    },
  );

  describe('HTTP+JSON binding specifics', () => {
    const rest = (
      agent: string,
      path: string,
      init: RequestInit & { key?: string | null } = {},
    ) => {
      const headers = new Headers(init.headers);
      if (init.key !== null) headers.set('authorization', `Bearer ${init.key ?? KEY}`);
      return fetch(`${base(agent)}/a2a/rest${path}`, { ...init, headers });
    };
    interface RestErrorBody {
      error: { code: number; status: string; message: string; details: Array<{ reason?: string }> };
    }

    it('serves message:send with application/a2a+json and the tenant-prefixed paths', async () => {
      const sent = await rest('math', '/default/message:send', {
        method: 'POST',
        headers: { 'content-type': 'application/a2a+json', 'a2a-version': '1.0' },
        body: JSON.stringify({
          message: {
            messageId: randomUUID(),
            role: 'ROLE_USER',
            parts: [{ text: 'Calculate 2^5' }],
          },
        }),
      });
      expect(sent.status).toBe(200);
      expect(sent.headers.get('content-type')).toContain('application/a2a+json');
      const { task } = (await sent.json()) as { task: WireTask };
      expect(task.status?.state).toBe('TASK_STATE_COMPLETED');
      const fetched = await rest('math', `/default/tasks/${task.id}?historyLength=0`);
      expect(fetched.status).toBe(200);
      expect(await fetched.json()).toMatchObject({ id: task.id });
    });

    it('answers errors with the binding error body and the matching status', async () => {
      const missing = await rest('math', `/tasks/${randomUUID()}`);
      expect(missing.status).toBe(404);
      const body = (await missing.json()) as RestErrorBody;
      expect(body.error).toMatchObject({ code: 404, status: 'NOT_FOUND' });
      expect(body.error.details[0]?.reason).toBe('TASK_NOT_FOUND');

      const badPage = await rest('math', '/tasks?pageSize=0');
      expect(badPage.status).toBe(400);
      expect(((await badPage.json()) as RestErrorBody).error.status).toBe('INVALID_ARGUMENT');

      const unauthenticated = await rest('math', '/tasks', { key: null });
      expect(unauthenticated.status).toBe(401);
      expect(((await unauthenticated.json()) as RestErrorBody).error).toMatchObject({
        code: 401,
        status: 'UNAUTHENTICATED',
      });

      const unknownVerb = await rest('math', `/tasks/${randomUUID()}:explode`, { method: 'POST' });
      expect(unknownVerb.status).toBeGreaterThanOrEqual(400);
      expect(unknownVerb.status).toBeLessThan(500);
    });

    it("refuses a path tenant that is not the caller's", async () => {
      const response = await rest('math', '/someone-else/tasks');
      expect(response.status).toBe(400);
      expect(((await response.json()) as RestErrorBody).error.message).toMatch(/tenant/);
    });
  });

  describe('v0.3 callers', () => {
    it('the SDK legacy transport (no A2A-Version header) gets a v0.3 answer', async () => {
      const transport = new LegacyJsonRpcTransport({
        endpoint: `${base('math')}/a2a/jsonrpc`,
        fetchImpl: fetchWithKey(KEY),
      });
      const result = await transport.sendMessage({
        tenant: '',
        message: userMessage('Calculate 10/4'),
        configuration: undefined,
        metadata: undefined,
      });
      expect(isTask(result)).toBe(true);
      expect(artifactsText(result as Task)).toBe('2.5');
    });

    it('a raw message/send without a version header gets kind-shaped results', async () => {
      const { status, body } = await rpc(
        'math',
        {
          jsonrpc: '2.0',
          id: 'legacy-1',
          method: 'message/send',
          params: {
            message: {
              kind: 'message',
              messageId: randomUUID(),
              role: 'user',
              parts: [{ kind: 'text', text: 'Calculate 3*3' }],
            },
          },
        },
        {},
      );
      expect(status).toBe(200);
      expect(body.id).toBe('legacy-1');
      expect(body.result).toMatchObject({ kind: 'task', status: { state: 'completed' } });
      expect(body.result?.artifacts[0].parts[0]).toEqual({ kind: 'text', text: '9' });
      const fetched = await rpc(
        'math',
        { jsonrpc: '2.0', id: 2, method: 'tasks/get', params: { id: body.result?.id } },
        {},
      );
      expect(fetched.body.result).toMatchObject({ kind: 'task', id: body.result?.id });
    });
  });

  describe('bad input gets the protocol error, never a 500', () => {
    it.each([
      [
        'a wrong jsonrpc version',
        { jsonrpc: '1.0', id: 1, method: 'SendMessage', params: {} },
        -32600,
      ],
      ['no method', { jsonrpc: '2.0', id: 1, params: {} }, -32600],
      ['a batch', [{ jsonrpc: '2.0', id: 1, method: 'GetTask' }], -32600],
      ['an unknown method', { jsonrpc: '2.0', id: 1, method: 'DoSomething', params: {} }, -32601],
      [
        'params that are not an object',
        { jsonrpc: '2.0', id: 1, method: 'GetTask', params: 3 },
        -32602,
      ],
      [
        'a message without parts',
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'SendMessage',
          params: { message: { messageId: 'm', role: 'ROLE_USER', parts: [] } },
        },
        -32602,
      ],
      [
        'a message without role',
        {
          jsonrpc: '2.0',
          id: 1,
          method: 'SendMessage',
          params: { message: { messageId: 'm', parts: [{ text: 'x' }] } },
        },
        -32602,
      ],
      [
        'an unknown task',
        { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'no-such-task' } },
        -32001,
      ],
    ])('%s', async (_, body, code) => {
      const response = await rpc('math', body);
      expect(response.status).toBe(200);
      expect(response.body).toMatchObject({ jsonrpc: '2.0', error: { code } });
    });

    it('ListTasks parameters out of range and a bad push url are -32602', async () => {
      const task = await sendTask(jsonRpcMath, userMessage('Calculate 5-3'));
      const badPage = await rpc('echo', {
        jsonrpc: '2.0',
        id: 3,
        method: 'ListTasks',
        params: { pageSize: 500 },
      });
      expect(badPage.body.error?.code).toBe(-32602);
      const badToken = await rpc('echo', {
        jsonrpc: '2.0',
        id: 4,
        method: 'ListTasks',
        params: { pageToken: 'garbage' },
      });
      expect(badToken.body.error?.code).toBe(-32602);
      const badUrl = await rpc('math', {
        jsonrpc: '2.0',
        id: 9,
        method: 'CreateTaskPushNotificationConfig',
        params: { taskId: task.id, url: 'ftp://x' },
      });
      expect(badUrl.body.error?.code).toBe(-32602);
    });

    it('a stream that fails before its first event is still an event stream for an event-stream reader', async () => {
      const response = await fetch(`${base('slow')}/a2a/jsonrpc`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          accept: 'text/event-stream',
          'a2a-version': '1.0',
          'x-api-key': KEY,
        },
        body: JSON.stringify({
          jsonrpc: '2.0',
          id: 7,
          method: 'SubscribeToTask',
          params: { id: randomUUID() },
        }),
      });
      expect(response.headers.get('content-type')).toContain('text/event-stream');
      const text = await response.text();
      const event = JSON.parse(text.replace(/^data: /, '').trim()) as RpcBody;
      expect(event).toMatchObject({ jsonrpc: '2.0', id: 7, error: { code: -32001 } });
    });

    it('unparsable JSON is -32700', async () => {
      const response = await rpc('math', '{"jsonrpc": "2.0",');
      expect(response.body).toMatchObject({ jsonrpc: '2.0', id: null, error: { code: -32700 } });
    });

    it('too many parts is -32602', async () => {
      const parts = Array.from({ length: 65 }, (_, i) => ({ text: `part ${i}` }));
      const response = await rpc('echo', {
        jsonrpc: '2.0',
        id: 1,
        method: 'SendMessage',
        params: { message: { messageId: 'm', role: 'ROLE_USER', parts } },
      });
      expect(response.body.error?.code).toBe(-32602);
    });

    it('an unsupported A2A-Version is -32009', async () => {
      const response = await rpc(
        'math',
        { jsonrpc: '2.0', id: 1, method: 'GetTask', params: { id: 'x' } },
        { 'a2a-version': '9.9' },
      );
      expect(response.body.error?.code).toBe(-32009);
    });
  });

  it('push notifications: each event of a task with a config reaches its webhook with the token', async () => {
    const received: Array<{ token: string | undefined; body: string }> = [];
    let status = 200;
    const webhook = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        received.push({
          token: request.headers['x-a2a-notification-token'] as string | undefined,
          body,
        });
        response.writeHead(status).end();
      });
    });
    await new Promise<void>((resolve) => webhook.listen(0, '127.0.0.1', resolve));
    const { port } = webhook.address() as AddressInfo;
    const metric = async (outcome: string) => {
      const text = await (await fetch(`${platform.url}/metrics`)).text();
      const line = text
        .split('\n')
        .find(
          (candidate) =>
            candidate.startsWith('a2a_push_deliveries_total{') &&
            candidate.includes(`outcome="${outcome}"`),
        );
      return line === undefined ? 0 : Number(line.slice(line.lastIndexOf(' ') + 1));
    };
    const sendWithWebhook = (text: string) =>
      jsonRpcMath.sendMessage({
        tenant: '',
        message: userMessage(text),
        configuration: {
          acceptedOutputModes: [],
          returnImmediately: false,
          taskPushNotificationConfig: TaskPushNotificationConfig.fromJSON({
            url: `http://127.0.0.1:${port}/hook`,
            token: 'hook-token',
          }),
        },
        metadata: undefined,
      });
    try {
      const deliveredBefore = await metric('delivered');
      const result = await sendWithWebhook('Calculate 8*8');
      if (!isTask(result)) throw new Error('expected a task');
      await waitFor(
        () => received.some((delivery) => delivery.body.includes('TASK_STATE_COMPLETED')),
        { what: 'the final notification' },
      );
      expect(received.every((delivery) => delivery.token === 'hook-token')).toBe(true);
      expect(received.every((delivery) => delivery.body.includes(result.id))).toBe(true);
      expect(await metric('delivered')).toBeGreaterThanOrEqual(deliveredBefore + received.length);

      status = 500;
      const rejectedBefore = await metric('rejected');
      await sendWithWebhook('Calculate 9*9');
      await waitFor(async () => (await metric('rejected')) > rejectedBefore, {
        what: 'a refused delivery to be counted',
      });
    } finally {
      webhook.close();
    }
  });

  it('records A2A metrics by method', async () => {
    const text = await (await fetch(`${platform.url}/metrics`)).text();
    expect(text).toMatch(
      /a2a_messages_total\{[^}]*method="SendMessage"[^}]*status="ok"[^}]*\} [1-9]/,
    );
    expect(text).toMatch(/a2a_messages_total\{[^}]*method="GetTask"/);
  });
});
