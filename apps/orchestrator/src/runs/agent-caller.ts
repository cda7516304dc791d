import { Role, TaskState, type Message, type Part, type Task } from '@a2a-js/sdk';
import { createHttpFetch } from '@app/a2a';
import {
  ClientFactory,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
  RestTransportFactory,
  type Client,
} from '@a2a-js/sdk/client';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';

/** What a step got from the agent it called. */
export interface AgentAnswer {
  readonly taskId: string | null;
  readonly contextId: string | null;
  readonly state: 'completed' | 'failed' | 'input_required';
  readonly text: string;
  readonly data: unknown;
}

const POLL_MS = 250;
/** States after which a task changes no more without the caller (INPUT_REQUIRED waits for it). */
const SETTLED = new Set<TaskState>([
  TaskState.TASK_STATE_COMPLETED,
  TaskState.TASK_STATE_FAILED,
  TaskState.TASK_STATE_CANCELED,
  TaskState.TASK_STATE_REJECTED,
  TaskState.TASK_STATE_INPUT_REQUIRED,
  TaskState.TASK_STATE_AUTH_REQUIRED,
]);

const partsText = (parts: readonly Part[]) =>
  parts.map((part) => (part.content?.$case === 'text' ? part.content.value : '')).join('');
const partsData = (parts: readonly Part[]) =>
  parts.find((part) => part.content?.$case === 'data')?.content?.value as unknown;

/**
 * Calls agents over A2A with the SDK's client, one client per agent, kept
 * (and with it the agent card) for later calls, all over one pool of
 * keep-alive connections.
 */
export class AgentCaller {
  private readonly clients = new Map<string, Promise<Client>>();
  private readonly httpFetch = createHttpFetch();

  constructor(private readonly apiKey: string) {}

  async call(
    baseUrl: string,
    input: unknown,
    options: {
      timeoutMs: number;
      traceparent?: string;
      taskId?: string | null;
      contextId?: string | null;
    },
  ): Promise<AgentAnswer> {
    const client = await this.client(baseUrl);
    const message: Message = {
      messageId: randomUUID(),
      // A follow-up (the answer to INPUT_REQUIRED) continues the same task.
      contextId: options.contextId ?? '',
      taskId: options.taskId ?? '',
      role: Role.ROLE_USER,
      parts: [
        typeof input === 'string'
          ? {
              content: { $case: 'text', value: input },
              mediaType: 'text/plain',
              filename: '',
              metadata: undefined,
            }
          : {
              content: { $case: 'data', value: input },
              mediaType: 'application/json',
              filename: '',
              metadata: undefined,
            },
      ],
      metadata: undefined,
      extensions: [],
      referenceTaskIds: [],
    };
    const result = await client.sendMessage(
      { tenant: '', message, configuration: undefined, metadata: undefined },
      {
        signal: AbortSignal.timeout(options.timeoutMs),
        serviceParameters: options.traceparent ? { traceparent: options.traceparent } : undefined,
      },
    );
    if ('messageId' in result) {
      return {
        taskId: null,
        contextId: result.contextId || null,
        state: 'completed',
        text: partsText(result.parts),
        data: partsData(result.parts),
      };
    }
    return this.fromTask(result);
  }

  /** The task the agent holds for a context (from an earlier call), or null when it never saw one. */
  async findTask(baseUrl: string, contextId: string, timeoutMs: number): Promise<Task | null> {
    const client = await this.client(baseUrl);
    const listed = await client.listTasks(
      {
        tenant: '',
        contextId,
        status: TaskState.TASK_STATE_UNSPECIFIED,
        pageSize: 1,
        pageToken: '',
        historyLength: 0,
        statusTimestampAfter: undefined,
        includeArtifacts: true,
      },
      { signal: AbortSignal.timeout(timeoutMs) },
    );
    return listed.tasks[0] ?? null;
  }

  /**
   * Follows a task the agent is (or was) working on until it settles, by
   * GetTask: how a step adopts a call made by a worker that died, instead of
   * sending the message again.
   */
  async awaitTask(baseUrl: string, task: Task, timeoutMs: number): Promise<AgentAnswer> {
    const client = await this.client(baseUrl);
    const deadline = Date.now() + timeoutMs;
    let current = task;
    while (!SETTLED.has(current.status?.state ?? TaskState.TASK_STATE_UNSPECIFIED)) {
      if (Date.now() > deadline)
        throw new Error(`Task ${task.id} did not settle within ${timeoutMs} ms`);
      await sleep(POLL_MS);
      current = await client.getTask(
        { tenant: '', id: task.id, historyLength: 0 },
        { signal: AbortSignal.timeout(Math.max(1, deadline - Date.now())) },
      );
    }
    return this.fromTask(current);
  }

  private fromTask(task: Task): AgentAnswer {
    const state = task.status?.state;
    const parts = task.artifacts.flatMap((artifact) => artifact.parts);
    const statusText = partsText(task.status?.message?.parts ?? []);
    const answer = { taskId: task.id, contextId: task.contextId, data: partsData(parts) };
    if (state === TaskState.TASK_STATE_COMPLETED)
      return { ...answer, state: 'completed', text: partsText(parts) || statusText };
    if (state === TaskState.TASK_STATE_INPUT_REQUIRED)
      return { ...answer, state: 'input_required', text: statusText };
    return {
      ...answer,
      state: 'failed',
      text: statusText || `The agent ended the task in ${TaskState[state ?? 0]}`,
    };
  }

  private client(baseUrl: string): Promise<Client> {
    let client = this.clients.get(baseUrl);
    if (client === undefined) {
      const key = this.apiKey;
      const httpFetch = this.httpFetch;
      const fetchImpl: typeof fetch = (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set('Authorization', `Bearer ${key}`);
        return httpFetch(input, { ...init, headers });
      };
      client = new ClientFactory({
        transports: [
          new JsonRpcTransportFactory({ fetchImpl }),
          new RestTransportFactory({ fetchImpl }),
        ],
        cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
      }).createFromUrl(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
      client.catch(() => this.clients.delete(baseUrl));
      this.clients.set(baseUrl, client);
    }
    return client;
  }
}
