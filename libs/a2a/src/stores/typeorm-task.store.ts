import { Task, TaskState, type ListTasksRequest, type ListTasksResponse } from '@a2a-js/sdk';
import { RequestMalformedError } from '@a2a-js/sdk/errors';
import type { ServerCallContext, TaskStore } from '@a2a-js/sdk/server';
import { PreparedStatement } from '@app/persistence';
import type { DataSource } from 'typeorm';
import { CALLER_AWAITS_SETTLED, FRESH_TASK_ID, scopeOf } from '../transport/call-context.js';
import { isSettled } from './task-states.js';
import type { TaskEventLog } from '../events/task-event-log.js';
import type { TaskRow, TaskWriteBuffer } from './task-write-buffer.js';

const TASK_BY_ID = new PreparedStatement<{
  tenant_id: string;
  owner: string;
  agent: string;
  task: Record<string, unknown>;
}>('a2a.task-by-id', 'SELECT tenant_id, owner, agent, task FROM a2a_tasks WHERE id = $1');

const DEFAULT_PAGE_SIZE = 50;

type Cursor = { readonly at: string; readonly id: string };

function encodeCursor(cursor: Cursor): string {
  return Buffer.from(JSON.stringify([cursor.at, cursor.id]), 'utf8').toString('base64url');
}

function decodeCursor(token: string): Cursor {
  try {
    const [at, id] = JSON.parse(Buffer.from(token, 'base64url').toString('utf8')) as [
      unknown,
      unknown,
    ];
    if (typeof at === 'string' && typeof id === 'string' && !Number.isNaN(Date.parse(at)))
      return { at, id };
  } catch {
    // fall through
  }
  throw new RequestMalformedError('pageToken is not a token this server issued');
}

/**
 * Tasks of one hosted agent in PostgreSQL, scoped by tenant, caller and agent:
 * a task of another scope is simply not found. Writes go through the shared
 * {@link TaskWriteBuffer}.
 */
export class TypeOrmTaskStore implements TaskStore {
  constructor(
    private readonly agent: string,
    private readonly dataSource: DataSource,
    private readonly buffer: TaskWriteBuffer,
    private readonly events?: TaskEventLog,
  ) {}

  async save(task: Task, context: ServerCallContext): Promise<void> {
    const { tenantId, owner } = scopeOf(context);
    if (context.state.get(FRESH_TASK_ID) === task.id) context.state.delete(FRESH_TASK_ID);
    const state = task.status?.state ?? TaskState.TASK_STATE_SUBMITTED;
    // A task this process has not saved yet may be new: make it durable before anyone is told
    // of it, unless the only one who can be told is a caller waiting for the task to settle.
    const revealedEarly = context.state.get(CALLER_AWAITS_SETTLED) !== true;
    const firstSave = !this.buffer.isKnown(task.id) && revealedEarly;
    const settled = isSettled(state);
    const written = this.buffer.write(
      {
        id: task.id,
        tenantId,
        owner,
        agent: this.agent,
        contextId: task.contextId,
        state: TaskState[state],
        statusTimestamp: task.status?.timestamp ? new Date(task.status.timestamp) : new Date(),
        task: Task.toJSON(task) as Record<string, unknown>,
      },
      firstSave || settled,
      settled,
    );
    // A settled task's events are durable with it: a subscriber then finds all of them.
    await (settled && this.events
      ? Promise.all([written, this.events.flushTask(task.id)])
      : written);
  }

  /**
   * The version of a task this process holds in memory (the one last saved,
   * until it is written and settled), or undefined. It is a new object after
   * every save, so a caller that remembers the version its own save made can
   * tell whether anyone has saved the task since.
   */
  version(taskId: string): TaskRow | undefined {
    return this.buffer.peek(taskId);
  }

  async load(taskId: string, context: ServerCallContext): Promise<Task | undefined> {
    const { tenantId, owner } = scopeOf(context);
    const pending = this.buffer.peek(taskId);
    if (pending !== undefined) {
      const inScope =
        pending.tenantId === tenantId && pending.owner === owner && pending.agent === this.agent;
      return inScope ? Task.fromJSON(pending.task) : undefined;
    }
    // The task the SDK has just made for this request, not saved yet: there is no row to read.
    if (context.state.get(FRESH_TASK_ID) === taskId) return undefined;
    // By primary key only, the scope checked here: with the scope in the WHERE clause the
    // planner may walk the listing index through all of a tenant's tasks.
    const rows = await TASK_BY_ID.rows(this.dataSource, [taskId]);
    const row = rows[0];
    const inScope =
      row !== undefined &&
      row.tenant_id === tenantId &&
      row.owner === owner &&
      row.agent === this.agent;
    return inScope ? Task.fromJSON(row.task) : undefined;
  }

  async list(params: ListTasksRequest, context: ServerCallContext): Promise<ListTasksResponse> {
    const { tenantId, owner } = scopeOf(context);
    const pageSize = params.pageSize ?? DEFAULT_PAGE_SIZE;
    await this.buffer.flush();

    const filters = ['tenant_id = $1', 'owner = $2', 'agent = $3'];
    const values: unknown[] = [tenantId, owner, this.agent];
    const add = (sql: (placeholder: string) => string, value: unknown) => {
      values.push(value);
      filters.push(sql(`$${values.length}`));
    };
    if (params.contextId) add((p) => `context_id = ${p}`, params.contextId);
    if (params.status !== undefined && params.status !== TaskState.TASK_STATE_UNSPECIFIED) {
      add((p) => `state = ${p}`, TaskState[params.status]);
    }
    if (params.statusTimestampAfter)
      add((p) => `status_timestamp > ${p}`, new Date(params.statusTimestampAfter));
    const countFilters = filters.join(' AND ');
    const countValues = [...values];
    if (params.pageToken) {
      const cursor = decodeCursor(params.pageToken);
      values.push(new Date(cursor.at), cursor.id);
      filters.push(`(status_timestamp, id) < ($${values.length - 1}, $${values.length})`);
    }
    values.push(pageSize + 1);
    const [rows, counted] = await Promise.all([
      this.dataSource.query<
        Array<{ id: string; status_timestamp: Date; task: Record<string, unknown> }>
      >(
        `SELECT id, status_timestamp, task FROM a2a_tasks WHERE ${filters.join(' AND ')}
         ORDER BY status_timestamp DESC, id DESC LIMIT $${values.length}`,
        values,
      ),
      this.dataSource.query<Array<{ total: string }>>(
        `SELECT count(*) AS total FROM a2a_tasks WHERE ${countFilters}`,
        countValues,
      ),
    ]);
    const page = rows.slice(0, pageSize);
    const last = page.at(-1);
    const tasks = page.map((row) => {
      const task = Task.fromJSON(row.task);
      if (params.includeArtifacts !== true) task.artifacts = [];
      return task;
    });
    return {
      tasks,
      pageSize,
      totalSize: Number(counted[0]?.total ?? 0),
      nextPageToken:
        rows.length > pageSize && last
          ? encodeCursor({ at: last.status_timestamp.toISOString(), id: last.id })
          : '',
    };
  }
}
