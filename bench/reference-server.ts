import { AgentCard, Role, TaskState, type Message, type Task } from '@a2a-js/sdk';
import {
  AgentEvent,
  DefaultRequestHandler,
  InMemoryTaskStore,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';
import express from 'express';
import { randomUUID } from 'node:crypto';

/**
 * The SDK's own Express server with an in-memory task store, serving an echo
 * agent that behaves like ours (a Message reply, or a completed Task when
 * the message metadata says `{"reply": "task"}`): the baseline of the A2A
 * host benchmark.
 */
const port = Number(process.env.PORT ?? 9100);
const url = `http://127.0.0.1:${port}`;

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

class EchoExecutor implements AgentExecutor {
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

const card = AgentCard.fromJSON({
  name: 'Echo (SDK reference server)',
  description: 'Echo agent on the SDK Express server',
  version: '1.0.0',
  supportedInterfaces: [
    { url: `${url}/a2a/jsonrpc`, protocolBinding: 'JSONRPC', protocolVersion: '1.0' },
  ],
  capabilities: { streaming: true },
  defaultInputModes: ['text/plain'],
  defaultOutputModes: ['text/plain'],
  skills: [{ id: 'echo', name: 'Echo', description: 'Echo', tags: ['echo'] }],
});

const handler = new DefaultRequestHandler(card, new InMemoryTaskStore(), new EchoExecutor());
const app = express();
app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler }));
app.use(
  '/a2a/jsonrpc',
  jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }),
);
app.listen(port, '127.0.0.1', () => console.log(`reference server listening on ${url}`));
