import { AgentCard, Extensions } from '@a2a-js/sdk';
import {
  DefaultRequestHandler,
  InMemoryTaskStore,
  JsonRpcTransportHandler,
  UnauthenticatedUser,
  defaultServerCallContextBuilder,
  validateVersion,
} from '@a2a-js/sdk/server';
import Fastify from 'fastify';
import { EchoExecutor, echoCard } from './lib/echo-executor.js';

/**
 * The SDK's request handler and JSON-RPC transport on bare Fastify, the way
 * its Express server uses them, with no authentication, rate limits, metrics,
 * logs or persistence: the ceiling of the A2A host benchmark, what our agent
 * app could serve if it did nothing but the protocol.
 */
const port = Number(process.env.PORT ?? 9101);
const url = `http://127.0.0.1:${port}`;

const handler = new DefaultRequestHandler(
  echoCard('Echo (SDK handler on bare Fastify)', url),
  new InMemoryTaskStore(),
  new EchoExecutor(),
);
const transport = new JsonRpcTransportHandler(handler);
const app = Fastify();
app.get('/.well-known/agent-card.json', async () => AgentCard.toJSON(await handler.getAgentCard()));
app.post('/a2a/jsonrpc', async (request) => {
  const header = (name: string) => {
    const value = request.headers[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const context = defaultServerCallContextBuilder({
    extensions: Extensions.parseServiceParameter(header('a2a-extensions')),
    user: new UnauthenticatedUser(),
    headers: request.headers,
    requestedVersion: header('a2a-version'),
  });
  validateVersion(context.requestedVersion, await handler.getAgentCard(), 'JSONRPC');
  return transport.handle(request.body as Record<string, unknown>, context);
});
await app.listen({ port, host: '127.0.0.1' });
console.log(`SDK handler on Fastify listening on ${url}`);
