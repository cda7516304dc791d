import {
  AgentCard,
  Role,
  StreamResponse,
  Task,
  TaskState,
  type Message,
  type SendMessageRequest,
} from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultExecutionEventBusManager,
  DefaultRequestHandler,
  InMemoryTaskStore,
  RequestContext,
  ServerCallContext,
  type AgentExecutor,
  type ExecutionEventBus,
  type PushNotificationSender,
} from '@a2a-js/sdk/server';
import { describe, expect, it } from '@jest/globals';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Notification } from '../push/push-notification.sender.js';
import { executorContext, SendMessageHandler, type PushNotifier } from './send-message.handler.js';
import type { TaskVersion, VersionedTaskStore } from './task-aggregator.js';

const card = AgentCard.fromJSON({
  name: 'spec',
  description: 'spec agent',
  version: '1.0.0',
  capabilities: { streaming: true, pushNotifications: true },
  defaultInputModes: ['text/plain'],
  defaultOutputModes: ['text/plain'],
  skills: [],
});

/** The SDK's in-memory store, telling saves apart as our PostgreSQL store does. */
class VersionedMemoryStore extends InMemoryTaskStore implements VersionedTaskStore {
  private readonly versions = new Map<string, TaskVersion>();
  readonly saves: unknown[] = [];

  override save(task: Task, context: ServerCallContext): Promise<void> {
    const version = { task: Task.toJSON(task) as Record<string, unknown> };
    this.versions.set(task.id, version);
    this.saves.push(version.task);
    return super.save(task, context);
  }

  version(taskId: string): TaskVersion | undefined {
    return this.versions.get(taskId);
  }
}

type Scenario = (context: RequestContext, bus: ExecutionEventBus) => Promise<void>;

const text = (value: string) => ({
  content: { $case: 'text' as const, value },
  mediaType: 'text/plain',
  filename: '',
  metadata: undefined,
});

function agentMessage(context: RequestContext, value: string): Message {
  return {
    messageId: `reply-${value}`,
    contextId: context.contextId,
    taskId: context.taskId,
    role: Role.ROLE_AGENT,
    parts: [text(value)],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

function newTask(context: RequestContext, history = [context.userMessage]): Task {
  return {
    id: context.taskId,
    contextId: context.contextId,
    status: { state: TaskState.TASK_STATE_SUBMITTED, message: undefined, timestamp: 'now' },
    artifacts: [],
    history,
    metadata: { started: true },
  };
}

function status(context: RequestContext, state: TaskState, said?: string) {
  return AgentEvent.statusUpdate({
    taskId: context.taskId,
    contextId: context.contextId,
    status: {
      state,
      message: said === undefined ? undefined : agentMessage(context, said),
      timestamp: 'now',
    },
    metadata: { step: state },
  });
}

function artifact(context: RequestContext, id: string, value: string, append = false) {
  return AgentEvent.artifactUpdate({
    taskId: context.taskId,
    contextId: context.contextId,
    artifact: {
      artifactId: id,
      name: id,
      description: '',
      parts: [text(value)],
      metadata: undefined,
      extensions: [],
    },
    append,
    lastChunk: false,
    metadata: undefined,
  });
}

const scenarios: Record<string, Scenario> = {
  'a message reply': (context, bus) => {
    bus.publish(AgentEvent.message({ ...agentMessage(context, 'hi'), taskId: '' }));
    return Promise.resolve();
  },
  'a task with artifacts streamed in chunks': (context, bus) => {
    bus.publish(AgentEvent.task(newTask(context)));
    bus.publish(status(context, TaskState.TASK_STATE_WORKING, 'working'));
    bus.publish(artifact(context, 'a', 'one'));
    bus.publish(artifact(context, 'a', ' two', true));
    bus.publish(artifact(context, 'b', 'other'));
    bus.publish(artifact(context, 'b', 'replaced'));
    bus.publish(status(context, TaskState.TASK_STATE_COMPLETED, 'done'));
    return Promise.resolve();
  },
  'a task without the user message in its history': (context, bus) => {
    bus.publish(AgentEvent.task(newTask(context, [])));
    bus.publish(status(context, TaskState.TASK_STATE_COMPLETED));
    return Promise.resolve();
  },
  'an executor that changes what it published': async (context, bus) => {
    const task = newTask(context);
    bus.publish(AgentEvent.task(task));
    const update = artifact(context, 'a', 'kept');
    bus.publish(update);
    await sleep(10);
    task.history.push(agentMessage(context, 'sneaked in'));
    if (update.kind === 'artifactUpdate') update.data.artifact?.parts.push(text('sneaked in'));
    bus.publish(status(context, TaskState.TASK_STATE_COMPLETED));
  },
  'an update after the task ended': (context, bus) => {
    bus.publish(AgentEvent.task(newTask(context)));
    bus.publish(status(context, TaskState.TASK_STATE_FAILED, 'failed'));
    bus.publish(status(context, TaskState.TASK_STATE_COMPLETED, 'too late'));
    return Promise.resolve();
  },
  'an executor that throws before publishing': () => Promise.reject(new Error('boom')),
  'an executor that throws after publishing a task': (context, bus) => {
    bus.publish(AgentEvent.task(newTask(context)));
    bus.publish(artifact(context, 'a', 'partial'));
    return Promise.reject(new Error('late boom'));
  },
  'a task that needs input': (context, bus) => {
    bus.publish(AgentEvent.task(newTask(context)));
    bus.publish(status(context, TaskState.TASK_STATE_INPUT_REQUIRED, 'which one?'));
    return Promise.resolve();
  },
  'a task that needs authorisation and then completes': async (context, bus) => {
    bus.publish(AgentEvent.task(newTask(context)));
    bus.publish(status(context, TaskState.TASK_STATE_AUTH_REQUIRED, 'sign in'));
    await sleep(20);
    bus.publish(status(context, TaskState.TASK_STATE_WORKING));
    bus.publish(status(context, TaskState.TASK_STATE_COMPLETED, 'signed in'));
  },
  'an executor that publishes nothing': () => Promise.resolve(),
};

function userMessage(): Message {
  return {
    messageId: 'user-1',
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [text('question')],
    metadata: { from: 'spec' },
    extensions: [],
    referenceTaskIds: [],
  };
}

function request(
  options: { returnImmediately?: boolean; historyLength?: number } = {},
): SendMessageRequest {
  return {
    tenant: '',
    message: userMessage(),
    configuration: {
      acceptedOutputModes: [],
      taskPushNotificationConfig: undefined,
      returnImmediately: options.returnImmediately ?? false,
      historyLength: options.historyLength,
    },
    metadata: undefined,
  };
}

/** Generated ids and timestamps, replaced by their order of appearance. */
function normalise(value: unknown): unknown {
  const ids = new Map<string, string>();
  return JSON.parse(
    JSON.stringify(value ?? null, (key, item: unknown) => {
      if (typeof item !== 'string') return item;
      if (key === 'timestamp') return 'T';
      if (/^[0-9a-f]{8}-[0-9a-f]{4}-/.test(item)) {
        if (!ids.has(item)) ids.set(item, `id-${ids.size}`);
        return ids.get(item);
      }
      return item;
    }),
  );
}

interface Outcome {
  result?: unknown;
  firstSave?: unknown;
  error?: string;
  stored: unknown[];
  notifications: unknown[];
  busKept: boolean;
}

function executorOf(scenario: Scenario): AgentExecutor & { done: Promise<void> } {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => (finish = resolve));
  return {
    done,
    execute: (context, bus) => scenario(context, bus).finally(finish),
    cancelTask: () => Promise.resolve(),
  };
}

async function settle(
  store: VersionedMemoryStore,
  notifications: Array<() => unknown>,
  context: ServerCallContext,
) {
  await sleep(50);
  const stored = await store.list(
    {
      tenant: '',
      contextId: '',
      status: TaskState.TASK_STATE_UNSPECIFIED,
      pageSize: 100,
      pageToken: '',
      historyLength: undefined,
      statusTimestampAfter: undefined,
      includeArtifacts: true,
    },
    context,
  );
  return {
    stored: stored.tasks.map((task) => Task.toJSON(task)),
    notifications: await Promise.all(notifications.map((read) => read())),
  };
}

/** What a handler needs from the harness, and what the harness records of it. */
interface Harness {
  readonly store: VersionedMemoryStore;
  readonly buses: DefaultExecutionEventBusManager;
  readonly executor: AgentExecutor & { done: Promise<void> };
  readonly notifications: Array<() => unknown>;
}

/** Sends through the handler `make` builds, and records the outcome once the executor is done. */
type Handler = Pick<DefaultRequestHandler, 'sendMessage' | 'sendMessageStream'>;

async function through(
  scenario: Scenario,
  send: SendMessageRequest,
  make: (harness: Harness) => Handler,
  streaming = false,
): Promise<Outcome> {
  const harness: Harness = {
    store: new VersionedMemoryStore(),
    buses: new DefaultExecutionEventBusManager(),
    executor: executorOf(scenario),
    notifications: [],
  };
  const handler = make(harness);
  const context = new ServerCallContext();
  const outcome: Partial<Outcome> = {};
  const streamed: unknown[] = [];
  let taskId = '';
  try {
    if (streaming) {
      for await (const response of handler.sendMessageStream(send, context)) {
        if (response.payload?.$case === 'task') taskId = response.payload.value.id;
        streamed.push(StreamResponse.toJSON(response));
      }
      outcome.result = streamed;
    } else {
      outcome.result = await handler.sendMessage(send, context);
      taskId = (outcome.result as Task).id ?? '';
    }
  } catch (error) {
    outcome.error = `${(error as Error).constructor.name}: ${(error as Error).message}`;
    if (streaming) outcome.result = streamed;
  }
  await harness.executor.done;
  return {
    ...outcome,
    firstSave: harness.store.saves[0],
    ...(await settle(harness.store, harness.notifications, context)),
    busKept: harness.buses.getByTaskId(taskId, context) !== undefined,
  };
}

const throughSdk = (scenario: Scenario, send: SendMessageRequest, streaming = false) =>
  through(
    scenario,
    send,
    ({ store, buses, executor, notifications }) => {
      const sender: PushNotificationSender = {
        send: (event, _context, task) => {
          // As the queued sender: an event of no task (a direct Message reply) notifies nobody.
          const payload = event.payload;
          const taskId =
            payload?.$case === 'task' ? payload.value.id : (payload?.value.taskId ?? '');
          if (taskId === '') return Promise.resolve();
          const wire = { event: StreamResponse.toJSON(event), task: task && Task.toJSON(task) };
          notifications.push(() => wire);
          return Promise.resolve();
        },
      };
      return new DefaultRequestHandler(card, store, executor, buses, undefined, sender);
    },
    streaming,
  );

const throughOurs = (scenario: Scenario, send: SendMessageRequest, streaming = false) =>
  through(
    scenario,
    send,
    ({ store, buses, executor, notifications }) => {
      const push: PushNotifier = {
        // Built late, as the queued sender does once it has found the task's configs.
        sendFor: (
          _taskId: string,
          _context: ServerCallContext,
          build: () => Notification | Promise<Notification>,
        ) => {
          notifications.push(async () => {
            const { event, task } = await build();
            return { event: StreamResponse.toJSON(event), task: task && Task.toJSON(task) };
          });
          return Promise.resolve();
        },
      };
      return new SendMessageHandler({
        card,
        store,
        executor,
        buses,
        pushConfigs: { save: () => Promise.resolve() },
        push,
      });
    },
    streaming,
  );

function wire(outcome: Outcome): Outcome & { result?: { message?: unknown } } {
  const result = outcome.result as Task | Message | undefined;
  return normalise({
    ...outcome,
    result:
      result === undefined
        ? undefined
        : 'status' in result
          ? Task.toJSON(result)
          : { message: result },
  }) as Outcome & { result?: { message?: unknown } };
}

describe('SendMessageHandler answers a new-task send as the SDK handler does', () => {
  const sends: Record<string, () => SendMessageRequest> = {
    blocking: () => request(),
    'non-blocking': () => request({ returnImmediately: true }),
    'with historyLength 1': () => request({ historyLength: 1 }),
    'with historyLength 0': () => request({ historyLength: 0 }),
  };
  for (const [name, scenario] of Object.entries(scenarios)) {
    for (const [kind, send] of Object.entries(sends)) {
      it(`${name}, ${kind}`, async () => {
        const sdk = wire(await throughSdk(scenario, send()));
        const ours = wire(await throughOurs(scenario, send()));
        if (kind !== 'non-blocking' || sdk.result?.message !== undefined) {
          expect(ours).toEqual(sdk);
          return;
        }
        // The one deliberate difference: answering before the task settles, the SDK returns the
        // executor's own task object as published (without the user's message its store adds,
        // and changing as the executor changes it); we return the task as first saved.
        expect({ ...ours, result: undefined }).toEqual({ ...sdk, result: undefined });
        expect(ours.result).toEqual(ours.firstSave);
      });
    }
  }
});

describe('SendMessageHandler streams a new task as the SDK handler does', () => {
  const sends: Record<string, () => SendMessageRequest> = {
    plain: () => request(),
    'with historyLength 1': () => request({ historyLength: 1 }),
  };
  for (const [name, scenario] of Object.entries(scenarios)) {
    for (const [kind, send] of Object.entries(sends)) {
      it(`${name}, ${kind}`, async () => {
        const sdk = normalise(await throughSdk(scenario, send(), true));
        const ours = normalise(await throughOurs(scenario, send(), true));
        expect(ours).toEqual(sdk);
      });
    }
  }

  it('refuses a stream that breaks the protocol order, as the SDK does', async () => {
    const broken: Scenario = (context, bus) => {
      bus.publish(AgentEvent.task(newTask(context)));
      bus.publish(AgentEvent.task(newTask(context)));
      return Promise.resolve();
    };
    const sdk = normalise(await throughSdk(broken, request(), true)) as Outcome;
    const ours = normalise(await throughOurs(broken, request(), true)) as Outcome;
    expect(sdk.error).toMatch(/^UnsupportedOperationError: Stream ordering violation/);
    expect(ours).toEqual(sdk);
  });
});

describe('executorContext', () => {
  it('gives the executor a RequestContext with the fields the SDK constructor sets', () => {
    const send = request();
    const context = new ServerCallContext();
    const sdk = new RequestContext(send, 't-1', 'c-1', context);
    const ours = executorContext(send, 't-1', 'c-1', context);
    expect(ours).toBeInstanceOf(RequestContext);
    expect(Object.keys(ours).sort()).toEqual(Object.keys(sdk).sort());
    expect(ours.userMessage).toBe(send.message);
    expect(ours.taskId).toBe('t-1');
    expect(ours.contextId).toBe('c-1');
  });
});
