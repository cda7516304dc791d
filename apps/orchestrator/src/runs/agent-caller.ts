import { Role, TaskState, type Message, type Part, type Task } from '@a2a-js/sdk';
import {
  ClientFactory,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
  RestTransportFactory,
  type Client,
} from '@a2a-js/sdk/client';
import { randomUUID } from 'node:crypto';

/** What a step got from the agent it called. */
export interface AgentAnswer {
  readonly taskId: string | null;
  readonly contextId: string | null;
  readonly state: 'completed' | 'failed' | 'input_required';
  readonly text: string;
  readonly data: unknown;
}

const partsText = (parts: readonly Part[]) =>
  parts.map((part) => (part.content?.$case === 'text' ? part.content.value : '')).join('');
const partsData = (parts: readonly Part[]) =>
  parts.find((part) => part.content?.$case === 'data')?.content?.value as unknown;

/**
 * Calls agents over A2A with the SDK's client, one client per agent, kept
 * (and with it the agent card and keep-alive connections) for later calls.
 */
export class AgentCaller {
  private readonly clients = new Map<string, Promise<Client>>();

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
      const fetchImpl: typeof fetch = (input, init) => {
        const headers = new Headers(init?.headers);
        headers.set('Authorization', `Bearer ${key}`);
        return fetch(input, { ...init, headers });
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
