import { A2aAgent, dataOf, RunningTasks, textOf, textPart } from '@app/a2a';
import { TaskState } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { setTimeout as sleep } from 'node:timers/promises';

interface SlowRequest {
  readonly steps?: number;
  readonly intervalMs?: number;
  readonly askInput?: boolean;
}

const MAX_STEPS = 100;
const MAX_INTERVAL_MS = 10_000;

/**
 * Works for a while and says so: streams a progress artifact chunk per step,
 * honours cancel between steps, and (with `askInput`) stops to ask for input
 * and finishes once the caller answers on the same task.
 */
@A2aAgent({
  name: 'slow',
  displayName: 'Slow Agent',
  description: 'Reports progress over several seconds, can be canceled, and can ask for input.',
  version: '1.0.0',
  skills: [
    {
      id: 'long-running',
      name: 'Long-running work',
      description:
        'Streams progress over several steps; send {"steps": 5, "intervalMs": 1000, "askInput": true}.',
      tags: ['test', 'streaming', 'human-in-the-loop'],
      examples: ['{"steps": 3, "intervalMs": 500}', '{"askInput": true}'],
    },
  ],
})
export class SlowAgent implements AgentExecutor {
  private readonly running = new RunningTasks();

  async execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { task, signal, end } = this.running.start(context, bus);
    try {
      task.start();
      if (context.task?.status?.state === TaskState.TASK_STATE_INPUT_REQUIRED) {
        const answer = textOf(context.userMessage) || 'nothing';
        task.artifact([textPart(`Report named "${answer}"`)], { name: 'report' });
        task.complete(`Done: report named "${answer}"`);
        return;
      }
      const request = dataOf<SlowRequest>(context.userMessage) ?? {};
      const steps = Math.min(Math.max(1, Math.trunc(request.steps ?? 5)), MAX_STEPS);
      const intervalMs = Math.min(
        Math.max(0, Math.trunc(request.intervalMs ?? 1_000)),
        MAX_INTERVAL_MS,
      );
      task.status(TaskState.TASK_STATE_WORKING, `Working in ${steps} steps`);
      for (let step = 1; step <= steps; step++) {
        await sleep(intervalMs, undefined, { signal }).catch(() => undefined);
        if (signal.aborted) return;
        task.artifact([textPart(`step ${step}/${steps}\n`)], {
          artifactId: `${context.taskId}-progress`,
          name: 'progress',
          append: step > 1,
          lastChunk: step === steps,
        });
      }
      if (request.askInput) {
        task.requireInput('What should the report be called?');
        return;
      }
      task.complete(`Finished ${steps} steps`);
    } finally {
      end();
    }
  }

  cancelTask(taskId: string): Promise<void> {
    this.running.cancel(taskId);
    return Promise.resolve();
  }
}
