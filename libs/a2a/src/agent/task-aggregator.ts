import type { Artifact, Message, Task } from '@a2a-js/sdk';
import type { AgentExecutionEvent, ServerCallContext, TaskStore } from '@a2a-js/sdk/server';
import { Logger } from '@nestjs/common';
import { TERMINAL_STATES } from '../stores/task-states.js';
import { copyData } from './copy-data.js';

/** A saved version of a task: a new object for every save, holding the task in wire form. */
export interface TaskVersion {
  /** ProtoJSON wire form of the task, as saved. */
  readonly task: Record<string, unknown>;
}

/** A task store that can tell whether a task was saved since a given save. */
export interface VersionedTaskStore extends TaskStore {
  version(taskId: string): TaskVersion | undefined;
}

const logger = new Logger('TaskAggregator');

function mergeArtifacts(persisted: Artifact[], incoming: Artifact[]): Artifact[] {
  if (persisted.length === 0) return copyData(incoming);
  if (incoming.length === 0) return copyData(persisted);
  const incomingById = new Map(incoming.map((artifact) => [artifact.artifactId, artifact]));
  const merged = persisted.map((artifact) =>
    copyData(incomingById.get(artifact.artifactId) ?? artifact),
  );
  const seen = new Set(persisted.map((artifact) => artifact.artifactId));
  for (const artifact of incoming)
    if (!seen.has(artifact.artifactId)) merged.push(copyData(artifact));
  return merged;
}

/**
 * Folds the events of one request into its result and saves the task after
 * every event, by the rules of the SDK's ResultManager: a task event is
 * merged with the stored task (history, artifacts by id, metadata) and gets
 * the user's message in its history; a status update replaces the status
 * (never that of a finished task) and adds its message to the history; an
 * artifact update appends to or replaces an artifact by id.
 *
 * Unlike the ResultManager it does not re-read and deep-clone the task for
 * every event: it keeps the task it last saved, and reads the store again
 * only when someone else has saved the task since. What it keeps of the
 * executor's objects it copies, so an executor may go on changing them.
 */
export class TaskAggregator {
  private task?: Task;
  private message?: Message;
  /** The store's version of the task after this aggregator's last save. */
  private savedVersion?: TaskVersion;

  constructor(
    private readonly store: VersionedTaskStore,
    private readonly context: ServerCallContext,
    /** The user's message as received (not shared with the executor). */
    private readonly userMessage: Message,
  ) {}

  /** The task as of the last event, if the request has one. */
  get currentTask(): Task | undefined {
    return this.task;
  }

  /** The task in wire form as this aggregator last saved it (an unchanging snapshot). */
  get saved(): TaskVersion | undefined {
    return this.savedVersion;
  }

  /** The message the agent replied with, or else the task. */
  get finalResult(): Message | Task | undefined {
    return this.message ?? this.task;
  }

  async apply(event: AgentExecutionEvent): Promise<void> {
    switch (event.kind) {
      case 'message':
        this.message = copyData(event.data);
        return;
      case 'task':
        return this.applyTask(event.data);
      case 'statusUpdate': {
        const update = event.data;
        const task = await this.stored(update.taskId, 'status update');
        if (task === undefined) return;
        const state = task.status?.state;
        if (state !== undefined && TERMINAL_STATES.has(state) && update.status?.state !== state) {
          logger.warn(`Status update ${update.status?.state} ignored: task ${task.id} has ended`);
          return;
        }
        task.status = copyData(update.status);
        if (update.metadata) task.metadata = { ...task.metadata, ...copyData(update.metadata) };
        const said = update.status?.message;
        if (said && !task.history.some((entry) => entry.messageId === said.messageId)) {
          task.history = [...task.history, copyData(said)];
        }
        return this.save(task);
      }
      case 'artifactUpdate': {
        const update = event.data;
        const artifact = update.artifact;
        if (artifact === undefined) return;
        const task = await this.stored(update.taskId, 'artifact update');
        if (task === undefined) return;
        const index = task.artifacts.findIndex((entry) => entry.artifactId === artifact.artifactId);
        const existing = task.artifacts[index];
        if (existing !== undefined && update.append) {
          existing.parts = [...existing.parts, ...copyData(artifact.parts)];
          if (artifact.description) existing.description = artifact.description;
          if (artifact.name) existing.name = artifact.name;
          if (artifact.metadata) {
            existing.metadata = { ...existing.metadata, ...copyData(artifact.metadata) };
          }
        } else if (existing !== undefined) {
          task.artifacts[index] = copyData(artifact);
        } else {
          task.artifacts.push(copyData(artifact));
        }
        if (update.metadata) task.metadata = { ...task.metadata, ...copyData(update.metadata) };
        return this.save(task);
      }
    }
  }

  private async applyTask(event: Task): Promise<void> {
    const persisted = event.id ? await this.load(event.id) : undefined;
    const merged = copyData(event);
    if (persisted !== undefined && persisted.id === event.id) {
      if (merged.history.length === 0) merged.history = copyData(persisted.history);
      merged.artifacts = mergeArtifacts(persisted.artifacts, event.artifacts);
      if (persisted.metadata || event.metadata) {
        merged.metadata = { ...copyData(persisted.metadata), ...copyData(event.metadata) };
      }
    }
    const said = this.userMessage;
    if (!merged.history.some((entry) => entry.messageId === said.messageId)) {
      merged.history = [said, ...merged.history];
    }
    return this.save(merged);
  }

  /** The task an update applies to: the one held here, unless it was saved elsewhere since. */
  private async stored(taskId: string, what: string): Promise<Task | undefined> {
    const task = taskId ? await this.load(taskId) : undefined;
    if (task === undefined || task.id !== taskId) {
      if (taskId) logger.warn(`Received ${what} for unknown task ${taskId}`);
      this.task = task;
      return undefined;
    }
    return task;
  }

  private load(taskId: string): Promise<Task | undefined> | Task {
    const held = this.task;
    if (
      held !== undefined &&
      held.id === taskId &&
      this.savedVersion !== undefined &&
      this.store.version(taskId) === this.savedVersion
    ) {
      return held;
    }
    return this.store.load(taskId, this.context);
  }

  private async save(task: Task): Promise<void> {
    this.task = task;
    const saved = this.store.save(task, this.context);
    // The store takes the version in synchronously; remember it before anything else can save.
    this.savedVersion = this.store.version(task.id);
    await saved;
  }
}
