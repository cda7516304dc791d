import { StreamResponse, TaskState, type Task } from '@a2a-js/sdk';
import {
  TaskNotCancelableError,
  TaskNotFoundError,
  UnsupportedOperationError,
} from '@a2a-js/sdk/errors';
import {
  InMemoryTaskStore,
  ResultManager,
  type AgentExecutionEvent,
  type ServerCallContext,
  type TaskStore,
} from '@a2a-js/sdk/server';
import { setTimeout as sleep } from 'node:timers/promises';
import { TERMINAL_STATES } from '../stores/task-states.js';
import { scopeOf } from '../transport/call-context.js';
import type { DurableEventBusManager } from './durable-event-bus.js';
import type { RunningTasksRegistry } from './running-tasks.registry.js';
import type { TaskEventHub } from './task-event-hub.js';
import type { LoggedEvent, TaskEventLog } from './task-event-log.js';

/** How long a follower waits for a live event before it reads the log anyway. */
const CATCH_UP_INTERVAL_MS = 2_000;
/** How long a remote cancel may take before we give up waiting for the executor. */
const REMOTE_CANCEL_TIMEOUT_MS = 10_000;

/** A stream ends at a terminal state or when the task waits for input, as the SDK's does. */
function endsStream(state: TaskState | undefined): boolean {
  return (
    state !== undefined &&
    (TERMINAL_STATES.has(state) || state === TaskState.TASK_STATE_INPUT_REQUIRED)
  );
}

function stateOf(response: StreamResponse): TaskState | undefined {
  const payload = response.payload;
  if (payload?.$case === 'statusUpdate') return payload.value.status?.state;
  if (payload?.$case === 'task') return payload.value.status?.state;
  return undefined;
}

function toAgentEvent(response: StreamResponse): AgentExecutionEvent | undefined {
  const payload = response.payload;
  switch (payload?.$case) {
    case 'task':
      return { kind: 'task', data: payload.value };
    case 'statusUpdate':
      return { kind: 'statusUpdate', data: payload.value };
    case 'artifactUpdate':
      return { kind: 'artifactUpdate', data: payload.value };
    default:
      return undefined;
  }
}

/**
 * SubscribeToTask and CancelTask for a task wherever it runs, on the durable
 * event log: a follower listens on the task's channel first, then reads the
 * log, sends the task as of the last logged event and then every later event
 * exactly once, in order (numbers seen twice are dropped, a gap is filled
 * from the log, and the log is read again whenever the channel is quiet).
 * When the log holds nothing new but the stored task has ended, the stream
 * ends with the stored task.
 */
export class TaskStreams {
  constructor(
    private readonly agent: string,
    private readonly taskStore: TaskStore,
    private readonly log: TaskEventLog,
    private readonly hub: TaskEventHub,
    private readonly registry: RunningTasksRegistry,
    private readonly buses: DurableEventBusManager,
  ) {}

  async *subscribe(
    taskId: string,
    context: ServerCallContext,
  ): AsyncGenerator<StreamResponse, void, undefined> {
    const stored = await this.taskStore.load(taskId, context);
    if (stored === undefined) throw new TaskNotFoundError(`Task not found: ${taskId}`);
    if (TERMINAL_STATES.has(stored.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) {
      throw new UnsupportedOperationError(
        `Task ${taskId} is in a terminal state and cannot be subscribed to`,
      );
    }
    const live: LoggedEvent[] = [];
    let wake: (() => void) | undefined;
    const stop = await this.hub.listen(this.log.channel(taskId), (message) => {
      try {
        // A flush announces a task's events as one array (a single event from older replicas).
        const announced = JSON.parse(message) as LoggedEvent | LoggedEvent[];
        if (Array.isArray(announced)) live.push(...announced);
        else live.push(announced);
      } catch {
        return;
      }
      wake?.();
    });
    try {
      // Events this process has not written yet belong in the snapshot.
      await this.log.flushTask(taskId);
      const logged = await this.log.read(taskId);
      const snapshot = await this.fold(stored, logged, context);
      yield { payload: { $case: 'task', value: snapshot } };
      if (endsStream(snapshot.status?.state)) return;
      let last = logged.at(-1)?.seq ?? 0;

      for (;;) {
        let next = live
          .splice(0)
          .filter((entry) => entry.seq > last)
          .sort((a, b) => a.seq - b.seq);
        const contiguous = next.every((entry, index) => entry.seq === last + 1 + index);
        if (next.length === 0) {
          const quiet = await new Promise<boolean>((resolve) => {
            const timer = setTimeout(() => resolve(true), CATCH_UP_INTERVAL_MS);
            wake = () => {
              clearTimeout(timer);
              resolve(false);
            };
          });
          wake = undefined;
          if (!quiet) continue;
          next = await this.log.read(taskId, last);
          if (next.length === 0) {
            // A task that ended within the batch that started it leaves nothing in the log
            // (see TaskEventLog): its row tells how it ended.
            const current = await this.taskStore.load(taskId, context);
            if (current !== undefined && endsStream(current.status?.state)) {
              yield { payload: { $case: 'task', value: current } };
              return;
            }
          }
        } else if (!contiguous) {
          // A missed or late announcement: the log has everything in order.
          next = await this.log.read(taskId, last);
        }
        for (const entry of next) {
          if (entry.seq !== last + 1) break;
          last = entry.seq;
          const response = StreamResponse.fromJSON(entry.event);
          yield response;
          if (endsStream(stateOf(response))) return;
        }
      }
    } finally {
      stop();
    }
  }

  /**
   * Cancels a task that another replica is executing: asks that replica (it
   * cancels through its own bus, so the executor stops) and waits for the
   * task to be canceled. `undefined` when no other replica runs the task:
   * the caller cancels it here.
   */
  async cancelElsewhere(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    if (this.buses.getByTaskId(taskId, context) !== undefined) return undefined;
    const executor = await this.registry.executorOf(taskId);
    if (executor === undefined || executor === this.registry.instanceId) return undefined;
    const { tenantId, owner } = scopeOf(context);
    const sent = await this.registry.request(executor, {
      action: 'cancel',
      agent: this.agent,
      taskId,
      tenantId,
      owner,
    });
    if (!sent) return undefined;
    const deadline = Date.now() + REMOTE_CANCEL_TIMEOUT_MS;
    while (Date.now() < deadline) {
      const task = await this.taskStore.load(taskId, context);
      const state = task?.status?.state;
      if (task !== undefined && state !== undefined && TERMINAL_STATES.has(state)) {
        if (state === TaskState.TASK_STATE_CANCELED) return task;
        throw new TaskNotCancelableError(`Task ${taskId} ended before it could be canceled`);
      }
      await sleep(50);
    }
    // The executor did not answer in time: it is gone or stuck; cancel the stored task here.
    return undefined;
  }

  /** The task as of the last logged event: the log folded as the SDK would, with the stored history. */
  private async fold(
    stored: Task,
    logged: readonly LoggedEvent[],
    context: ServerCallContext,
  ): Promise<Task> {
    if (logged.length === 0) return stored;
    const manager = new ResultManager(new InMemoryTaskStore(), context);
    for (const entry of logged) {
      const event = toAgentEvent(StreamResponse.fromJSON(entry.event));
      if (event !== undefined) await manager.processEvent(event);
    }
    const folded = manager.getCurrentTask();
    if (folded === undefined) return stored;
    return { ...folded, history: stored.history };
  }
}
