import { AgentCard, Role, TaskState, type Message, type Task } from '@a2a-js/sdk';
import {
  AgentEvent,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { randomUUID } from 'node:crypto';

/**
 * The echo agent of the A2A host benchmark's baselines, written against the
 * SDK alone: it behaves like ours (a Message reply, or a completed Task when
 * the message metadata says `{"reply": "task"}`).
 */

const text = (message: Message) =>
  message.parts.map((part) => (part.content?.$case === 'text' ? part.content.value : '')).join('');

const reply = (value: string, contextId: string, taskId = ''): Message => ({
  messageId: randomUUID(),
  contextId,
  taskId,
  role: Role.ROLE_AGENT,
  parts: [
    {
      content: { $case: 'text', value },
      mediaType: 'text/plain',
      filename: '',
      metadata: undefined,
    },
  ],
  metadata: undefined,
  extensions: [],
  referenceTaskIds: [],
});

export class EchoExecutor implements AgentExecutor {
  execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const input = text(context.userMessage);
    if (context.userMessage.metadata?.reply !== 'task') {
      bus.publish(AgentEvent.message(reply(input, context.contextId)));
      return Promise.resolve();
    }
    const task: Task = {
      id: context.taskId,
      contextId: context.contextId,
      status: {
        state: TaskState.TASK_STATE_SUBMITTED,
        message: undefined,
        timestamp: new Date().toISOString(),
      },
      artifacts: [],
      history: [context.userMessage],
      metadata: undefined,
    };
    bus.publish(AgentEvent.task(task));
    bus.publish(
      AgentEvent.artifactUpdate({
        taskId: task.id,
        contextId: task.contextId,
        artifact: {
          artifactId: randomUUID(),
          name: 'echo',
          description: '',
          parts: reply(input, task.contextId).parts,
          metadata: undefined,
          extensions: [],
        },
        append: false,
        lastChunk: true,
        metadata: undefined,
      }),
    );
    bus.publish(
      AgentEvent.statusUpdate({
        taskId: task.id,
        contextId: task.contextId,
        status: {
          state: TaskState.TASK_STATE_COMPLETED,
          message: reply(input, task.contextId, task.id),
          timestamp: new Date().toISOString(),
        },
        metadata: undefined,
      }),
    );
    return Promise.resolve();
  }

  cancelTask(): Promise<void> {
    return Promise.resolve();
  }
}

/** The card of a baseline server's echo agent, served at `url`. */
export function echoCard(name: string, url: string): AgentCard {
  return AgentCard.fromJSON({
    name,
    description: 'Echo agent on a benchmark baseline server',
    version: '1.0.0',
    supportedInterfaces: [
      { url: `${url}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
    ],
    capabilities: { streaming: true },
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [{ id: 'echo', name: 'Echo', description: 'Echo', tags: ['echo'] }],
  });
}
