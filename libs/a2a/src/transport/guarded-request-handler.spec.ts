import { Role, TaskState, type Message, type SendMessageRequest, type Task } from '@a2a-js/sdk';
import { TaskNotCancelableError, TaskNotFoundError } from '@a2a-js/sdk/errors';
import { ServerCallContext, type A2ARequestHandler, type TaskStore } from '@a2a-js/sdk/server';
import { describe, expect, it } from '@jest/globals';
import { SendMessageHandler } from '../agent/send-message.handler.js';
import { GuardedRequestHandler } from './guarded-request-handler.js';

const context = new ServerCallContext();

function message(overrides: Partial<Message> = {}): Message {
  return {
    messageId: 'm-1',
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [
      { content: { $case: 'text', value: 'hi' }, mediaType: '', filename: '', metadata: undefined },
    ],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
    ...overrides,
  };
}

const request = (msg: Message | undefined, historyLength?: number): SendMessageRequest => ({
  tenant: '',
  message: msg,
  configuration: {
    acceptedOutputModes: [],
    taskPushNotificationConfig: undefined,
    returnImmediately: false,
    historyLength,
  },
  metadata: undefined,
});

function task(state: TaskState): Task {
  return {
    id: 't-1',
    contextId: 'c-1',
    status: { state, message: undefined, timestamp: undefined },
    artifacts: [],
    history: [],
    metadata: undefined,
  };
}

/** The SDK handler stands behind an interface; this one records what reached it and fails on demand. */
function innerHandler(behaviour: { fail?: Error } = {}) {
  const reached: string[] = [];
  const handler = new Proxy({} as A2ARequestHandler, {
    get: (_, method: string) => () => {
      reached.push(method);
      return behaviour.fail
        ? Promise.reject(behaviour.fail)
        : Promise.resolve(task(TaskState.TASK_STATE_COMPLETED));
    },
  });
  return { handler, reached };
}

const storeWith = (stored?: Task): TaskStore => ({
  save: () => Promise.resolve(),
  load: () => Promise.resolve(stored),
  list: () => Promise.resolve({ tasks: [], nextPageToken: '', pageSize: 0, totalSize: 0 }),
});

describe('GuardedRequestHandler', () => {
  it.each([
    ['no message', request(undefined), /message is required/],
    ['no role', request(message({ role: Role.ROLE_UNSPECIFIED })), /role/],
    ['no parts', request(message({ parts: [] })), /at least one part/],
    [
      'too many parts',
      request(message({ parts: Array.from({ length: 5 }, () => message().parts[0]) })),
      /at most 4/,
    ],
    [
      'an empty part',
      request(
        message({
          parts: [{ content: undefined, mediaType: '', filename: '', metadata: undefined }],
        }),
      ),
      /exactly one of/,
    ],
    ['a negative historyLength', request(message(), -1), /historyLength/],
  ])('rejects a send with %s before it reaches the SDK', async (_, params, expected) => {
    const { handler, reached } = innerHandler();
    const guarded = new GuardedRequestHandler(handler, storeWith(), { maxParts: 4 });
    await expect(guarded.sendMessage(params, context)).rejects.toThrow(expected);
    expect(() => guarded.sendMessageStream(params, context)).toThrow(expected);
    expect(reached).toEqual([]);
  });

  it('lets a valid send through', async () => {
    const { handler, reached } = innerHandler();
    await new GuardedRequestHandler(handler, storeWith(), { maxParts: 4 }).sendMessage(
      request(message()),
      context,
    );
    expect(reached).toEqual(['sendMessage']);
  });

  it('serves a send that starts a task on the send path, and a follow-up through the SDK handler', async () => {
    const { handler, reached } = innerHandler();
    // The real routing rule (handles) of the send path, with its sending recorded.
    const sends = Object.assign(Object.create(SendMessageHandler.prototype) as SendMessageHandler, {
      sendMessage: () => {
        reached.push('send path');
        return Promise.resolve(task(TaskState.TASK_STATE_COMPLETED));
      },
    });
    const guarded = new GuardedRequestHandler(
      handler,
      storeWith(),
      { maxParts: 4 },
      undefined,
      () => true,
      sends,
    );
    await guarded.sendMessage(request(message()), context);
    await guarded.sendMessage(request(message({ taskId: 't-1' })), context);
    await guarded.sendMessage(request(message({ referenceTaskIds: ['t-0'] })), context);
    expect(reached).toEqual(['send path', 'sendMessage', 'sendMessage']);
  });

  it('answers TaskNotCancelable for a task that is already canceled', async () => {
    const { handler, reached } = innerHandler();
    const guarded = new GuardedRequestHandler(
      handler,
      storeWith(task(TaskState.TASK_STATE_CANCELED)),
      { maxParts: 4 },
    );
    await expect(
      guarded.cancelTask({ tenant: '', id: 't-1', metadata: undefined }, context),
    ).rejects.toBeInstanceOf(TaskNotCancelableError);
    expect(reached).toEqual([]);
    const missing = new GuardedRequestHandler(handler, storeWith(undefined), { maxParts: 4 });
    await expect(
      missing.cancelTask({ tenant: '', id: 't-1', metadata: undefined }, context),
    ).rejects.toBeInstanceOf(TaskNotFoundError);
  });

  it('hides the internals of unexpected errors and keeps protocol errors as they are', async () => {
    const failing = innerHandler({ fail: new Error('relation "secret_table" does not exist') });
    const guarded = new GuardedRequestHandler(failing.handler, storeWith(), { maxParts: 4 });
    const error = await guarded.getTask({ tenant: '', id: 't-1' }, context).then(
      () => new Error('expected a failure'),
      (caught: unknown) => caught as Error,
    );
    expect(error.message).toMatch(/^Internal error \(error id [0-9a-f-]{36}\)$/);
    expect(error.message).not.toContain('secret_table');

    const notFound = innerHandler({ fail: new TaskNotFoundError('Task not found: t-1') });
    await expect(
      new GuardedRequestHandler(notFound.handler, storeWith(), { maxParts: 4 }).getTask(
        { tenant: '', id: 't-1' },
        context,
      ),
    ).rejects.toBeInstanceOf(TaskNotFoundError);
  });
});
