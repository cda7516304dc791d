import {
  Role,
  Task,
  TaskState,
  type AgentCard,
  type Message,
  type SendMessageRequest,
  type StreamResponse,
} from '@a2a-js/sdk';
import {
  A2AError,
  ExtensionSupportRequiredError,
  RequestMalformedError,
  UnsupportedOperationError,
} from '@a2a-js/sdk/errors';
import {
  AgentEvent,
  ExecutionEventQueue,
  RequestContext,
  type AgentExecutionEvent,
  type AgentExecutor,
  type ExecutionEventBus,
  type ExecutionEventBusManager,
  type ServerCallContext,
} from '@a2a-js/sdk/server';
import type { TaskPushNotificationConfig } from '@a2a-js/sdk';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { Notification } from '../push/push-notification.sender.js';
import { INTERRUPTED_STATES } from '../stores/task-states.js';
import { streamResponseOf } from '../events/stream-response.js';
import { copyData } from './copy-data.js';
import { TaskAggregator, type VersionedTaskStore } from './task-aggregator.js';

const logger = new Logger('SendMessage');

/** Where the task's configs are kept when a send carries one. */
export interface PushConfigSaver {
  save(
    taskId: string,
    context: ServerCallContext,
    config: TaskPushNotificationConfig,
  ): Promise<void>;
}

/** Queues the push notifications of a task's events (see QueuedPushSender). */
export interface PushNotifier {
  sendFor(
    taskId: string,
    context: ServerCallContext,
    build: () => Notification | Promise<Notification>,
  ): Promise<void>;
}

export interface SendMessageDependencies {
  /** The agent's card (its capabilities and extensions; the same at every base URL). */
  readonly card: AgentCard;
  readonly store: VersionedTaskStore;
  readonly executor: AgentExecutor;
  readonly buses: ExecutionEventBusManager;
  readonly pushConfigs: PushConfigSaver;
  readonly push: PushNotifier;
}

/**
 * The request context the executor gets. The SDK's constructor deep-clones
 * the request with `structuredClone`; the request here is already the
 * executor's own copy, so the context is put together without a second one.
 */
export function executorContext(
  request: SendMessageRequest,
  taskId: string,
  contextId: string,
  context: ServerCallContext,
): RequestContext {
  const built = Object.create(RequestContext.prototype) as RequestContext;
  return Object.assign(built, {
    request,
    taskId,
    contextId,
    context,
    task: undefined,
    referenceTasks: undefined,
  });
}

function isTask(result: Message | Task): result is Task {
  return 'status' in result;
}

function applyHistoryLength(task: Task, historyLength: number | undefined): void {
  if (historyLength === undefined) return;
  task.history = historyLength <= 0 ? [] : task.history.slice(-historyLength);
}

function failure(taskId: string, contextId: string, text: string): Task['status'] {
  return {
    state: TaskState.TASK_STATE_FAILED,
    message: {
      role: Role.ROLE_AGENT,
      messageId: randomUUID(),
      taskId,
      contextId,
      parts: [
        {
          content: { $case: 'text', value: text },
          mediaType: 'text/plain',
          filename: '',
          metadata: {},
        },
      ],
      metadata: {},
      extensions: [],
      referenceTaskIds: [],
    },
    timestamp: new Date().toISOString(),
  };
}

type StreamPattern = 'undetermined' | 'message-only' | 'task-lifecycle';

/** A stream is one message, or a task and then its updates; anything else is refused. */
function nextPattern(pattern: StreamPattern, event: AgentExecutionEvent): StreamPattern {
  switch (pattern) {
    case 'undetermined':
      if (event.kind === 'message') return 'message-only';
      if (event.kind === 'task') return 'task-lifecycle';
      throw new UnsupportedOperationError(
        `Received ${event.kind} before initial 'Message'/'Task' event.`,
      );
    case 'message-only':
      throw new UnsupportedOperationError(`Received ${event.kind} after message-only response.`);
    case 'task-lifecycle':
      if (event.kind !== 'statusUpdate' && event.kind !== 'artifactUpdate') {
        throw new UnsupportedOperationError(
          `Stream ordering violation: received ${event.kind} in task lifecycle stream.`,
        );
      }
      return pattern;
  }
}

/**
 * SendMessage and SendStreamingMessage for a message that starts a new task
 * (it names no task and no reference tasks), with the semantics of the SDK's
 * DefaultRequestHandler:
 * blocking and non-blocking sends, the result on an AUTH_REQUIRED status,
 * a failed task when the executor throws, a push config carried by the send,
 * a push notification for every event, the bus kept for follow-ups while the
 * task waits for input.
 *
 * It does the same work with less copying: the SDK deep-clones the request
 * twice and the whole task several times for every event (ResultManager,
 * push), which on a short request is a large share of the time it takes.
 * Messages that continue a task go to the SDK's handler.
 */
export class SendMessageHandler {
  constructor(private readonly deps: SendMessageDependencies) {}

  /** Whether this handler serves the send (otherwise the SDK's handler does). */
  handles(params: SendMessageRequest): boolean {
    const message = params.message;
    return message !== undefined && !message.taskId && message.referenceTaskIds.length === 0;
  }

  async sendMessage(
    params: SendMessageRequest,
    context: ServerCallContext,
  ): Promise<Message | Task> {
    const { taskId, queue, aggregator } = await this.start(params, context, false);
    const blocking = params.configuration?.returnImmediately !== true;
    const historyLength = params.configuration?.historyLength;
    return new Promise<Message | Task>((resolve, reject) => {
      let answered = false;
      const answer = (result: Message | Task) => {
        if (answered) return;
        answered = true;
        if (isTask(result)) applyHistoryLength(result, historyLength);
        resolve(result);
      };
      void this.process(queue, aggregator, context, blocking, answer)
        .then(() => {
          if (answered) return;
          const result = aggregator.finalResult;
          if (result === undefined) {
            reject(
              blocking
                ? new A2AError(
                    'Agent execution finished without a result, and no task context found.',
                  )
                : new RequestMalformedError(
                    'Execution finished before a message or task was produced.',
                  ),
            );
            return;
          }
          answer(result);
        })
        .catch(async (error: unknown) => {
          if (!answered) {
            answered = true;
            reject(error instanceof Error ? error : new Error(String(error)));
            return;
          }
          // The caller has its answer already; the task must not be left as if it were running.
          await this.failAfterAnswer(aggregator, taskId, error);
        });
    });
  }

  /**
   * SendStreamingMessage for a message that starts a new task: every event
   * as the SDK's handler streams it (a task event as the task saved with
   * it), refusing a stream that breaks the protocol's order (a message,
   * or a task and then its updates).
   */
  async *sendMessageStream(
    params: SendMessageRequest,
    context: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    if (!this.deps.card.capabilities?.streaming) {
      throw new UnsupportedOperationError('Streaming is not supported.');
    }
    const { queue, aggregator } = await this.start(params, context, true);
    const historyLength = params.configuration?.historyLength;
    let pattern: StreamPattern = 'undetermined';
    try {
      for await (const event of queue.events()) {
        pattern = nextPattern(pattern, event);
        const applied = aggregator.apply(event);
        this.notify(event, applied, aggregator, context);
        await applied;
        if (event.kind !== 'task') {
          yield streamResponseOf(event);
          continue;
        }
        const task = copyData(aggregator.currentTask ?? event.data);
        applyHistoryLength(task, historyLength);
        yield { payload: { $case: 'task', value: task } };
      }
    } finally {
      queue.stop();
    }
  }

  /** Creates the task's ids and bus, saves a push config the send carries, and starts the executor. */
  private async start(
    params: SendMessageRequest,
    context: ServerCallContext,
    streaming: boolean,
  ): Promise<{ taskId: string; queue: ExecutionEventQueue; aggregator: TaskAggregator }> {
    const message = params.message;
    if (message === undefined) throw new RequestMalformedError('request.message is required.');
    this.checkExtensions(context);
    const taskId = randomUUID();
    const contextId = message.contextId || randomUUID();
    const forExecutor: SendMessageRequest = {
      ...params,
      message: copyData({ ...message, contextId, taskId }),
    };
    const requestContext = executorContext(forExecutor, taskId, contextId, context);
    const pushConfig = params.configuration?.taskPushNotificationConfig;
    if (pushConfig && this.deps.card.capabilities?.pushNotifications) {
      await this.deps.pushConfigs.save(taskId, context, { ...copyData(pushConfig), taskId });
    }
    const bus = this.deps.buses.createOrGetByTaskId(taskId, context);
    const queue = new ExecutionEventQueue(bus);
    this.run(taskId, bus, requestContext, streaming);
    return { taskId, queue, aggregator: new TaskAggregator(this.deps.store, context, message) };
  }

  /** Applies each event in turn, sends its push notifications, and answers when the caller should hear. */
  private async process(
    queue: ExecutionEventQueue,
    aggregator: TaskAggregator,
    context: ServerCallContext,
    blocking: boolean,
    answer: (result: Message | Task) => void,
  ): Promise<void> {
    try {
      for await (const event of queue.events()) {
        const applied = aggregator.apply(event);
        // Queued before the event's save is awaited: the push configs then come with the write
        // of the event (a settled task's save waits for that write).
        this.notify(event, applied, aggregator, context);
        await applied;
        if (!blocking) {
          const first = event.kind === 'message' ? aggregator.finalResult : aggregator.currentTask;
          if (first !== undefined) answer(copyData(first));
        } else if (
          event.kind === 'statusUpdate' &&
          event.data.status?.state === TaskState.TASK_STATE_AUTH_REQUIRED &&
          aggregator.currentTask !== undefined
        ) {
          answer(copyData(aggregator.currentTask));
        }
      }
    } finally {
      queue.stop();
    }
  }

  private notify(
    event: AgentExecutionEvent,
    applied: Promise<void>,
    aggregator: TaskAggregator,
    context: ServerCallContext,
  ): void {
    if (!this.deps.card.capabilities?.pushNotifications) return;
    const taskId = event.kind === 'task' ? event.data.id : event.data.taskId;
    if (!taskId) return;
    // As of this event: the task is the version saved for it, read back only if a config
    // needs it; an update is copied, since the executor may change it before it is sent.
    const saved = applied.then(() =>
      aggregator.currentTask === undefined ? undefined : aggregator.saved,
    );
    // Read only if a config asks for it; a rejected save is reported by the request itself.
    saved.catch(() => undefined);
    const published = event.kind === 'task' ? event : { ...event, data: copyData(event.data) };
    this.deps.push
      .sendFor(taskId, context, async () => {
        const version = await saved;
        const task = version === undefined ? undefined : Task.fromJSON(version.task);
        return { event: streamResponseOf(published as AgentExecutionEvent, task), task };
      })
      .catch((error: unknown) => logger.error(`Push notification not queued: ${String(error)}`));
  }

  private async failAfterAnswer(
    aggregator: TaskAggregator,
    taskId: string,
    error: unknown,
  ): Promise<void> {
    const task = aggregator.currentTask;
    const text = `Event processing loop failed: ${(error as Error)?.message || 'Unknown error'}`;
    logger.error(`Events of task ${taskId} not processed: ${text}`);
    if (task === undefined) return;
    await aggregator
      .apply(
        AgentEvent.statusUpdate({
          taskId: task.id,
          contextId: task.contextId,
          status: failure(task.id, task.contextId, text),
          metadata: {},
        }),
      )
      .catch((again: unknown) =>
        logger.error(`Task ${taskId} not marked failed: ${String(again)}`),
      );
  }

  /**
   * Runs the executor; if it throws, the task fails (a failed task is
   * published for it). When it returns, the bus is closed, unless the task
   * waits for input or authorisation and a follow-up may use it.
   */
  private run(
    taskId: string,
    bus: ExecutionEventBus,
    requestContext: RequestContext,
    streaming: boolean,
  ): void {
    let lastState: TaskState | undefined;
    let lastTask: Task | undefined;
    const track = (event: AgentExecutionEvent) => {
      if (event.kind === 'task') lastTask = event.data;
      if (event.kind === 'task' || event.kind === 'statusUpdate') {
        lastState = event.data.status?.state ?? lastState;
      }
    };
    bus.on('event', track);
    this.deps.executor
      .execute(requestContext, bus)
      .catch((error: unknown) => {
        const text = `Agent execution error: ${(error as Error)?.message ?? String(error)}`;
        logger.error(`Agent execution failed for task ${taskId}: ${String(error)}`);
        // A stream that has had its task goes on with it: only the failure follows.
        const failed = streaming ? lastTask : undefined;
        const id = failed?.id ?? taskId;
        const contextId = failed?.contextId ?? requestContext.contextId;
        const status = failure(id, contextId, text);
        if (failed === undefined) {
          bus.publish(
            AgentEvent.task({
              id,
              contextId,
              status,
              artifacts: [],
              history: [requestContext.userMessage],
              metadata: {},
            }),
          );
        }
        // As the SDK does: a stream's failure is a status of its own, a blocking send's the task's.
        const update = streaming ? failure(id, contextId, text) : status;
        bus.publish(
          AgentEvent.statusUpdate({ taskId: id, contextId, status: update, metadata: {} }),
        );
      })
      .finally(() => {
        bus.off('event', track);
        if (lastState !== undefined && INTERRUPTED_STATES.has(lastState)) return;
        bus.finished();
        this.deps.buses.cleanupByTaskId(taskId, requestContext.context);
      });
  }

  private checkExtensions(context: ServerCallContext): void {
    const declared = this.deps.card.capabilities?.extensions ?? [];
    const requested = new Set(context.requestedExtensions ?? []);
    const missing = declared.filter((ext) => ext.required && !requested.has(ext.uri));
    if (missing.length > 0) {
      throw new ExtensionSupportRequiredError(
        `Client must declare support for required extensions: ${missing.map((ext) => ext.uri).join(', ')}`,
      );
    }
    if (context.requestedExtensions) {
      const exposed = new Set(declared.map((ext) => ext.uri));
      context.setRequestedExtensions(
        context.requestedExtensions.filter((extension) => exposed.has(extension)),
      );
    }
  }
}
