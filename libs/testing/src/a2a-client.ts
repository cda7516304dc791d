import { Role, type Message, type Part, type Task } from '@a2a-js/sdk';
import {
  ClientFactory,
  DefaultAgentCardResolver,
  JsonRpcTransportFactory,
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

/** The SDK's own client for the agent at `baseUrl`, over JSON-RPC, authenticated with `key`. */
export async function connectJsonRpc(baseUrl: string, key: string): Promise<Client> {
  const fetchImpl = fetchWithKey(key);
  const factory = new ClientFactory({
    transports: [new JsonRpcTransportFactory({ fetchImpl })],
    cardResolver: new DefaultAgentCardResolver({ fetchImpl }),
  });
  // The SDK resolves the card path relative to the base URL: keep its last segment.
  return factory.createFromUrl(baseUrl.endsWith('/') ? baseUrl : `${baseUrl}/`);
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
