import {
  Role,
  TaskState,
  type AgentCard,
  type CancelTaskRequest,
  type DeleteTaskPushNotificationConfigRequest,
  type GetExtendedAgentCardRequest,
  type GetTaskPushNotificationConfigRequest,
  type GetTaskRequest,
  type ListTaskPushNotificationConfigsRequest,
  type ListTaskPushNotificationConfigsResponse,
  type ListTasksRequest,
  type ListTasksResponse,
  type Message,
  type SendMessageRequest,
  type StreamResponse,
  type SubscribeToTaskRequest,
  type Task,
  type TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import {
  A2AError,
  RequestMalformedError,
  TaskNotCancelableError,
  TaskNotFoundError,
  UnsupportedOperationError,
} from '@a2a-js/sdk/errors';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { A2ARequestHandler, ServerCallContext, TaskStore } from '@a2a-js/sdk/server';
import { NEW_TASK_REQUEST } from './call-context.js';
import type { TaskStreams } from '../events/task-streams.js';
import type { SendMessageHandler } from '../agent/send-message.handler.js';

export interface RequestLimits {
  readonly maxParts: number;
}

const logger = new Logger('A2aRequests');

/** Protocol errors pass; anything else is logged with an id and answered without its internals. */
function hideInternals(error: unknown): never {
  if (error instanceof A2AError) throw error;
  const errorId = randomUUID();
  logger.error({ err: error, errorId }, `A2A request failed (${errorId})`);
  throw new Error(`Internal error (error id ${errorId})`);
}

/**
 * Runs the SDK's stream to its end whatever the caller does: the SDK
 * persists a task's events while its stream is read, so a caller that goes
 * away must not stop that (the executor keeps running and its task keeps
 * being saved). Events are handed to the caller while it listens.
 */
async function* detached<T>(
  stream: AsyncGenerator<T, void, undefined>,
): AsyncGenerator<T, void, undefined> {
  const buffered: T[] = [];
  let done = false;
  let failure: { error: unknown } | undefined;
  let wake: (() => void) | undefined;
  let listening = true;
  void (async () => {
    try {
      for await (const item of stream) {
        if (listening) buffered.push(item);
        wake?.();
      }
    } catch (error) {
      if (listening) failure = { error };
      else hideInternals(error);
    } finally {
      done = true;
      wake?.();
    }
  })().catch(() => undefined);
  try {
    for (;;) {
      if (buffered.length > 0) {
        yield buffered.shift() as T;
        continue;
      }
      if (failure) throw failure.error;
      if (done) return;
      await new Promise<void>((resolve) => (wake = resolve));
      wake = undefined;
    }
  } finally {
    listening = false;
    buffered.length = 0;
  }
}

async function* guardedStream<T>(
  stream: AsyncGenerator<T, void, undefined>,
): AsyncGenerator<T, void, undefined> {
  try {
    yield* stream;
  } catch (error) {
    hideInternals(error);
  }
}

function requireHistoryLength(historyLength: number | undefined): void {
  if (historyLength !== undefined && (!Number.isInteger(historyLength) || historyLength < 0)) {
    throw new RequestMalformedError('historyLength must be a non-negative integer');
  }
}

/**
 * Our boundary in front of the SDK's request handler: it rejects the input
 * SDK 1.3.0 lets through (messages without parts or role, negative history
 * lengths, too many parts) with InvalidParams, and answers TaskNotCancelable
 * for a task that is already canceled, where the SDK answers success.
 */
export class GuardedRequestHandler implements A2ARequestHandler {
  constructor(
    private readonly inner: A2ARequestHandler,
    private readonly taskStore: TaskStore,
    private readonly limits: RequestLimits,
    private readonly streams?: TaskStreams,
    private readonly accepting: () => boolean = () => true,
    private readonly sends?: SendMessageHandler,
  ) {}

  getAgentCard(): Promise<AgentCard> {
    return this.inner.getAgentCard().catch(hideInternals);
  }

  getAuthenticatedExtendedAgentCard(
    params: GetExtendedAgentCardRequest,
    context: ServerCallContext,
  ): Promise<AgentCard> {
    return this.inner.getAuthenticatedExtendedAgentCard(params, context).catch(hideInternals);
  }

  async sendMessage(
    params: SendMessageRequest,
    context: ServerCallContext,
  ): Promise<Message | Task> {
    this.validateSend(params);
    if (!params.message?.taskId) context.state.set(NEW_TASK_REQUEST, true);
    const handler = this.sends?.handles(params) ? this.sends : this.inner;
    return handler.sendMessage(params, context).catch(hideInternals);
  }

  sendMessageStream(
    params: SendMessageRequest,
    context: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    this.validateSend(params);
    if (!params.message?.taskId) context.state.set(NEW_TASK_REQUEST, true);
    const handler = this.sends?.handles(params) ? this.sends : this.inner;
    return guardedStream(detached(handler.sendMessageStream(params, context)));
  }

  getTask(params: GetTaskRequest, context: ServerCallContext): Promise<Task> {
    requireHistoryLength(params.historyLength);
    return this.inner.getTask(params, context).catch(hideInternals);
  }

  async cancelTask(params: CancelTaskRequest, context: ServerCallContext): Promise<Task> {
    if (params.id) {
      const task = await this.taskStore.load(params.id, context).catch(hideInternals);
      if (task === undefined) throw new TaskNotFoundError(`Task not found: ${params.id}`);
      if (task.status?.state === TaskState.TASK_STATE_CANCELED) {
        throw new TaskNotCancelableError(`Task ${params.id} is already canceled`);
      }
    }
    if (params.id && this.streams) {
      const canceled = await this.streams.cancelElsewhere(params.id, context).catch(hideInternals);
      if (canceled !== undefined) return canceled;
    }
    return this.inner.cancelTask(params, context).catch(hideInternals);
  }

  listTasks(params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    requireHistoryLength(params.historyLength);
    if (
      params.pageSize !== undefined &&
      (!Number.isInteger(params.pageSize) || params.pageSize < 1 || params.pageSize > 100)
    ) {
      throw new RequestMalformedError('pageSize must be an integer between 1 and 100');
    }
    if (params.statusTimestampAfter && Number.isNaN(Date.parse(params.statusTimestampAfter))) {
      throw new RequestMalformedError('statusTimestampAfter must be an ISO 8601 timestamp');
    }
    return this.inner.listTasks(params, context).catch(hideInternals);
  }

  createTaskPushNotificationConfig(
    params: TaskPushNotificationConfig,
    context: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    if (!params.url) throw new RequestMalformedError('url is required');
    return this.inner.createTaskPushNotificationConfig(params, context).catch(hideInternals);
  }

  getTaskPushNotificationConfig(
    params: GetTaskPushNotificationConfigRequest,
    context: ServerCallContext,
  ): Promise<TaskPushNotificationConfig> {
    return this.inner.getTaskPushNotificationConfig(params, context).catch(hideInternals);
  }

  listTaskPushNotificationConfigs(
    params: ListTaskPushNotificationConfigsRequest,
    context: ServerCallContext,
  ): Promise<ListTaskPushNotificationConfigsResponse> {
    return this.inner.listTaskPushNotificationConfigs(params, context).catch(hideInternals);
  }

  deleteTaskPushNotificationConfig(
    params: DeleteTaskPushNotificationConfigRequest,
    context: ServerCallContext,
  ): Promise<void> {
    return this.inner.deleteTaskPushNotificationConfig(params, context).catch(hideInternals);
  }

  resubscribe(
    params: SubscribeToTaskRequest,
    context: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    if (!params.id) throw new RequestMalformedError('id is required');
    if (this.streams) return guardedStream(this.streams.subscribe(params.id, context));
    return guardedStream(this.inner.resubscribe(params, context));
  }

  private validateSend(params: SendMessageRequest): void {
    if (!this.accepting()) {
      throw new UnsupportedOperationError(
        'This instance is shutting down and starts no new work; send the message again',
      );
    }
    const message = params.message;
    if (message === undefined) throw new RequestMalformedError('message is required');
    if (message.role === Role.ROLE_UNSPECIFIED)
      throw new RequestMalformedError('message.role is required');
    if (!message.messageId) throw new RequestMalformedError('message.messageId is required');
    if (message.parts.length === 0)
      throw new RequestMalformedError('message.parts must hold at least one part');
    if (message.parts.length > this.limits.maxParts) {
      throw new RequestMalformedError(
        `message.parts may hold at most ${this.limits.maxParts} parts`,
      );
    }
    if (message.parts.some((part) => part.content === undefined)) {
      throw new RequestMalformedError('every part needs exactly one of text, raw, url or data');
    }
    requireHistoryLength(params.configuration?.historyLength);
  }
}
