import { DefaultRequestHandler, InMemoryTaskStore } from '@a2a-js/sdk/server';
import { agentCardHandler, jsonRpcHandler, UserBuilder } from '@a2a-js/sdk/server/express';
import express from 'express';
import { EchoExecutor, echoCard } from './lib/echo-executor.js';

/**
 * The SDK's own Express server with an in-memory task store, serving the
 * echo agent: the baseline of the A2A host benchmark.
 */
const port = Number(process.env.PORT ?? 9100);
const url = `http://127.0.0.1:${port}`;

const handler = new DefaultRequestHandler(
  echoCard('Echo (SDK reference server)', url),
  new InMemoryTaskStore(),
  new EchoExecutor(),
);
const app = express();
app.use('/.well-known/agent-card.json', agentCardHandler({ agentCardProvider: handler }));
app.use(
  '/a2a/jsonrpc',
  jsonRpcHandler({ requestHandler: handler, userBuilder: UserBuilder.noAuthentication }),
);
app.listen(port, '127.0.0.1', () => console.log(`reference server listening on ${url}`));
