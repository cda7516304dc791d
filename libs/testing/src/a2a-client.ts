import { Role, type Message, type Part, type Task } from '@a2a-js/sdk';
import {
  ClientFactory,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
  RestTransportFactory,
  type Client,
} from '@a2a-js/sdk/client';
import { randomUUID } from 'node:crypto';

/** `fetch` that sends the API key on every request, the card fetch included. */
export function fetchWithKey(key: string): typeof fetch {
  return (input, init) => {
    const headers = new Headers(init?.headers);
    headers.set('Authorization', `Bearer ${key}`);
    return fetch(input, { ...init, headers });
  };
}

export type A2aBinding = 'JSONRPC' | 'HTTP+JSON';

/** The SDK's own client for the agent at `baseUrl`, over one binding, authenticated with `key`. */
export async function connectAgent(
  baseUrl: string,
  key: string,
  binding: A2aBinding = 'JSONRPC',
): Promise<Client> {
  const fetchImpl = fetchWithKey(key);
  const factory = new ClientFactory({
    transports: [
      binding === 'JSONRPC'
        ? new JsonRpcTransportFactory({ fetchImpl })
        : new RestTransportFactory({ fetchImpl }),
    ],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
  });
  // The SDK resolves the card path relative to the base URL: keep its last segment.
  return factory.createFromUrl(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
}

/** The SDK's own client over JSON-RPC. */
export function connectJsonRpc(baseUrl: string, key: string): Promise<Client> {
  return connectAgent(baseUrl, key, 'JSONRPC');
}

export function userMessage(text: string, extra: Partial<Message> = {}): Message {
  return {
    messageId: randomUUID(),
    contextId: '',
    taskId: '',
    role: Role.ROLE_USER,
    parts: [
      {
        content: { $case: 'text', value: text },
        mediaType: 'text/plain',
        filename: '',
        metadata: undefined,
      },
    ],
    metadata: undefined,
    extensions: [],
    referenceTaskIds: [],
    ...extra,
  };
}

export function userData(value: unknown, extra: Partial<Message> = {}): Message {
  const message = userMessage('', extra);
  message.parts = [
    {
      content: { $case: 'data', value },
      mediaType: 'application/json',
      filename: '',
      metadata: undefined,
    },
  ];
  return message;
}

export function partsText(parts: readonly Part[]): string {
  return parts.map((part) => (part.content?.$case === 'text' ? part.content.value : '')).join('');
}

export function artifactsText(task: Task): string {
  return task.artifacts.map((artifact) => partsText(artifact.parts)).join('\n');
}

export function isTask(result: Message | Task): result is Task {
  return !('messageId' in result);
}
