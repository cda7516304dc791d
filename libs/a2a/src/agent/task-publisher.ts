import { Role, TaskState, type Artifact, type Message, type Part, type Task } from '@a2a-js/sdk';
import { AgentEvent, type ExecutionEventBus, type RequestContext } from '@a2a-js/sdk/server';
import { randomUUID } from 'node:crypto';

export function textPart(text: string): Part {
  return {
    content: { $case: 'text', value: text },
    mediaType: 'text/plain',
    filename: '',
    metadata: undefined,
  };
}

export function dataPart(value: unknown): Part {
  return {
    content: { $case: 'data', value },
    mediaType: 'application/json',
    filename: '',
    metadata: undefined,
  };
}

/** The text parts of a message, joined by newlines. */
export function textOf(message: Message | undefined): string {
  return (message?.parts ?? [])
    .map((part) => (part.content?.$case === 'text' ? part.content.value : undefined))
    .filter((text): text is string => text !== undefined)
    .join('\n')
    .trim();
}

/** The value of the first data part of a message, if any. */
export function dataOf<T = Record<string, unknown>>(message: Message | undefined): T | undefined {
  const part = message?.parts.find((candidate) => candidate.content?.$case === 'data');
  return part?.content?.$case === 'data' ? (part.content.value as T) : undefined;
}

export function agentMessage(parts: Part[], ids: { contextId: string; taskId?: string }): Message {
  return {
    messageId: randomUUID(),
    contextId: ids.contextId,
    taskId: ids.taskId ?? '',
    role: Role.ROLE_AGENT,
    parts,
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
  };
}

/**
 * Publishes the events of one task in the order the protocol wants: the task
 * first (new, or the one a follow-up message continues), then status and
 * artifact updates, then a final state.
 */
export class TaskPublisher {
  constructor(
    private readonly context: RequestContext,
    private readonly bus: ExecutionEventBus,
  ) {}

  get taskId(): string {
    return this.context.taskId;
  }

  get contextId(): string {
    return this.context.contextId;
  }

  /** Publishes the task: the existing one for a follow-up, a new SUBMITTED one otherwise. */
  start(): Task {
    const task: Task = this.context.task ?? {
      id: this.taskId,
      contextId: this.contextId,
      status: {
        state: TaskState.TASK_STATE_SUBMITTED,
        message: undefined,
        timestamp: new Date().toISOString(),
      },
      artifacts: [],
      history: [this.context.userMessage],
      metadata: undefined,
    };
    this.bus.publish(AgentEvent.task(task));
    return task;
  }

  status(state: TaskState, text?: string): void {
    this.bus.publish(
      AgentEvent.statusUpdate({
        taskId: this.taskId,
        contextId: this.contextId,
        status: {
          state,
          message: text === undefined ? undefined : agentMessage([textPart(text)], this),
          timestamp: new Date().toISOString(),
        },
        metadata: undefined,
      }),
    );
  }

  artifact(
    parts: Part[],
    options: { name?: string; artifactId?: string; append?: boolean; lastChunk?: boolean } = {},
  ): void {
    const artifact: Artifact = {
      artifactId: options.artifactId ?? randomUUID(),
      name: options.name ?? '',
      description: '',
      parts,
      metadata: undefined,
      extensions: [],
    };
    this.bus.publish(
      AgentEvent.artifactUpdate({
        taskId: this.taskId,
        contextId: this.contextId,
        artifact,
        append: options.append ?? false,
        lastChunk: options.lastChunk ?? true,
        metadata: undefined,
      }),
    );
  }

  complete(text?: string): void {
    this.status(TaskState.TASK_STATE_COMPLETED, text);
  }

  fail(text: string): void {
    this.status(TaskState.TASK_STATE_FAILED, text);
  }

  reject(text: string): void {
    this.status(TaskState.TASK_STATE_REJECTED, text);
  }

  requireInput(question: string): void {
    this.status(TaskState.TASK_STATE_INPUT_REQUIRED, question);
  }

  cancel(text = 'Canceled'): void {
    this.status(TaskState.TASK_STATE_CANCELED, text);
  }
}
