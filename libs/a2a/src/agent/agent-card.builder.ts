import { AgentCard } from '@a2a-js/sdk';
import type { A2aAgentOptions } from './a2a-agent.decorator.js';

export const A2A_PROTOCOL_VERSION = '1.0';
export const A2A_LEGACY_PROTOCOL_VERSION = '0.3';

/** Paths of an agent's endpoints below its base URL. */
export const A2A_PATHS = {
  card: '/.well-known/agent-card.json',
  jsonRpc: '/a2a/jsonrpc',
  rest: '/a2a/rest',
} as const;

/**
 * Builds the Agent Card (an SDK object) for an agent served at `baseUrl`,
 * through its ProtoJSON wire form so that every field the SDK expects is set.
 * The card lists the JSON-RPC interface (v1.0, and again for v0.3 clients)
 * and the HTTP+JSON interface,
 * and the platform's two ways to authenticate.
 */
export function buildAgentCard(options: A2aAgentOptions, baseUrl: string): AgentCard {
  const jsonRpcUrl = `${baseUrl}${A2A_PATHS.jsonRpc}`;
  return AgentCard.fromJSON({
    name: options.displayName ?? options.name,
    description: options.description,
    version: options.version,
    supportedInterfaces: [
      { url: jsonRpcUrl, protocolBinding: 'JSONRPC', protocolVersion: A2A_PROTOCOL_VERSION },
      {
        url: `${baseUrl}${A2A_PATHS.rest}`,
        protocolBinding: 'HTTP+JSON',
        protocolVersion: A2A_PROTOCOL_VERSION,
      },
      { url: jsonRpcUrl, protocolBinding: 'JSONRPC', protocolVersion: A2A_LEGACY_PROTOCOL_VERSION },
    ],
    ...(options.provider ? { provider: options.provider } : {}),
    ...(options.documentationUrl ? { documentationUrl: options.documentationUrl } : {}),
    capabilities: {
      streaming: options.streaming ?? true,
      pushNotifications: options.pushNotifications ?? true,
      extendedAgentCard: true,
    },
    securitySchemes: {
      bearer: {
        httpAuthSecurityScheme: {
          scheme: 'Bearer',
          description: 'Platform API key as a bearer token',
        },
      },
      apiKey: {
        apiKeySecurityScheme: {
          location: 'header',
          name: 'X-API-Key',
          description: 'Platform API key',
        },
      },
    },
    securityRequirements: [
      { schemes: { bearer: { list: [] } } },
      { schemes: { apiKey: { list: [] } } },
    ],
    defaultInputModes: options.defaultInputModes ?? ['text/plain', 'application/json'],
    defaultOutputModes: options.defaultOutputModes ?? ['text/plain', 'application/json'],
    skills: options.skills.map((skill) => ({
      id: skill.id,
      name: skill.name,
      description: skill.description,
      tags: skill.tags,
      examples: skill.examples ?? [],
      inputModes: skill.inputModes ?? [],
      outputModes: skill.outputModes ?? [],
    })),
  });
}
