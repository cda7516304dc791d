import { A2aAgent, agentMessage, dataOf, TaskPublisher, textOf, textPart } from '@app/a2a';
import {
  AgentEvent,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';

/**
 * Repeats what it is told, for tests and benchmarks. It answers with a
 * Message, or with a completed Task holding the echo as an artifact when the
 * message's metadata says `{"reply": "task"}`.
 */
@A2aAgent({
  name: 'echo',
  displayName: 'Echo Agent',
  description:
    'Repeats the text and data it receives; answers with a message, or with a task on request.',
  version: '1.0.0',
  skills: [
    {
      id: 'echo',
      name: 'Echo',
      description: 'Returns the text it was sent.',
      tags: ['test', 'echo'],
      examples: ['hello'],
    },
  ],
})
export class EchoAgent implements AgentExecutor {
  execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const message = context.userMessage;
    const text = textOf(message);
    if (message.metadata?.reply !== 'task' && context.task === undefined) {
      bus.publish(
        AgentEvent.message(agentMessage([textPart(text)], { contextId: context.contextId })),
      );
      return Promise.resolve();
    }
    const task = new TaskPublisher(context, bus);
    task.start();
    const data = dataOf(message);
    task.artifact(
      data === undefined ? [textPart(text)] : [textPart(text), ...message.parts.slice(1)],
      { name: 'echo' },
    );
    task.complete(text);
    return Promise.resolve();
  }

  /** Echo tasks complete before a cancel can reach them. */
  cancelTask(): Promise<void> {
    return Promise.resolve();
  }
}
