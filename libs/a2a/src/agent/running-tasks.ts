import type { ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { TaskPublisher } from './task-publisher.js';

interface Running {
  readonly publisher: TaskPublisher;
  readonly controller: AbortController;
}

/**
 * The tasks an agent is executing, so that `cancelTask` can stop one:
 * it aborts the task's signal and publishes CANCELED, which ends the task.
 * The executor checks `signal.aborted` and stops publishing.
 */
export class RunningTasks {
  private readonly running = new Map<string, Running>();

  start(
    context: RequestContext,
    bus: ExecutionEventBus,
  ): { task: TaskPublisher; signal: AbortSignal; end: () => void } {
    const publisher = new TaskPublisher(context, bus);
    const controller = new AbortController();
    this.running.set(context.taskId, { publisher, controller });
    return {
      task: publisher,
      signal: controller.signal,
      end: () => this.running.delete(context.taskId),
    };
  }

  cancel(taskId: string): void {
    const running = this.running.get(taskId);
    if (running === undefined) return;
    this.running.delete(taskId);
    running.controller.abort();
    running.publisher.cancel("Canceled at the caller's request");
  }

  get size(): number {
    return this.running.size;
  }
}
