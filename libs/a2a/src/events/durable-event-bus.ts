import {
  DefaultExecutionEventBus,
  type AgentExecutionEvent,
  type ExecutionEventBus,
  type ExecutionEventBusManager,
  type ServerCallContext,
} from '@a2a-js/sdk/server';
import { FRESH_TASK_ID, NEW_TASK_REQUEST, PlatformUser } from '../transport/call-context.js';
import type { RunningTasksRegistry } from './running-tasks.registry.js';
import { streamResponseOf } from './stream-response.js';
import type { TaskEventLog } from './task-event-log.js';

/**
 * An in-process bus whose every task event also goes to the durable log. The
 * task is recorded as running here at its first event: a direct Message
 * reply never becomes a task and costs Redis nothing.
 */
class DurableExecutionEventBus extends DefaultExecutionEventBus {
  private recorded = false;

  /** `fresh`: the bus of a task just created for this send, of which nothing is logged. */
  constructor(
    private readonly taskId: string,
    private readonly log: TaskEventLog,
    private readonly registry: RunningTasksRegistry,
    private readonly fresh: boolean,
  ) {
    super();
  }

  override publish(event: AgentExecutionEvent): void {
    // A direct Message reply belongs to no task.
    if (event.kind !== 'message') {
      const response = streamResponseOf(event);
      const first = !this.recorded;
      if (first) {
        this.recorded = true;
        this.registry.started(this.taskId);
      }
      this.log.append(this.taskId, response, first && this.fresh);
    }
    super.publish(event);
  }
}

function scopeKey(taskId: string, context?: ServerCallContext): string {
  const user = context?.user;
  const tenant = user instanceof PlatformUser ? user.auth.tenantId : (context?.tenant ?? '');
  const owner = user instanceof PlatformUser ? user.auth.apiKeyId : '';
  return `${tenant}\0${owner}\0${taskId}`;
}

/**
 * The SDK's event-bus seam, made durable: buses stay in process (the
 * executor and its caller's stream share one), every event they carry is
 * appended to the {@link TaskEventLog} (PostgreSQL, then Redis pub/sub), and
 * the replica executing a task is recorded so that other replicas can route
 * a cancel to it.
 */
export class DurableEventBusManager implements ExecutionEventBusManager {
  private readonly buses = new Map<string, ExecutionEventBus>();

  constructor(
    private readonly log: TaskEventLog,
    private readonly registry: RunningTasksRegistry,
  ) {}

  createOrGetByTaskId(taskId: string, context?: ServerCallContext): ExecutionEventBus {
    // The bus of a send that names no task is made for the task the SDK just created.
    if (context?.state.get(NEW_TASK_REQUEST) === true && !context.state.has(FRESH_TASK_ID))
      context.state.set(FRESH_TASK_ID, taskId);
    const key = scopeKey(taskId, context);
    let bus = this.buses.get(key);
    if (bus === undefined) {
      const fresh = context?.state.get(FRESH_TASK_ID) === taskId;
      bus = new DurableExecutionEventBus(taskId, this.log, this.registry, fresh);
      this.buses.set(key, bus);
    }
    return bus;
  }

  getByTaskId(taskId: string, context?: ServerCallContext): ExecutionEventBus | undefined {
    return this.buses.get(scopeKey(taskId, context));
  }

  cleanupByTaskId(taskId: string, context?: ServerCallContext): void {
    const key = scopeKey(taskId, context);
    const bus = this.buses.get(key);
    if (bus === undefined) return;
    bus.removeAllListeners();
    this.buses.delete(key);
    this.registry.ended(taskId);
  }

  /** Tasks this process is executing. */
  get size(): number {
    return this.buses.size;
  }
}
