import { A2aAgent, TaskPublisher, textOf, textPart } from '@app/a2a';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';

@A2aAgent({
  name: 'greeting',
  displayName: 'Greeting Agent',
  description: 'Greets whoever it is told about.',
  version: '1.0.0',
  skills: [
    {
      id: 'greet',
      name: 'Greet',
      description: 'Writes a greeting for a name.',
      tags: ['greeting', 'example'],
      examples: ['Ada'],
    },
  ],
})
export class GreetingAgent implements AgentExecutor {
  execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const task = new TaskPublisher(context, bus);
    task.start();
    const name = textOf(context.userMessage);
    if (name === '') {
      task.reject('Tell me whom to greet.');
      return Promise.resolve();
    }
    task.artifact([textPart(`Hello, ${name}!`)], { name: 'greeting' });
    task.complete();
    return Promise.resolve();
  }

  cancelTask(): Promise<void> {
    return Promise.resolve();
  }
}
