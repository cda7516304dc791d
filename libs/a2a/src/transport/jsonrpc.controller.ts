import { SSE_HEADERS, formatSSEEvent } from '@a2a-js/sdk';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import { JsonRpcTransportHandler, validateVersion } from '@a2a-js/sdk/server';
import { A2aRoute, InjectMetric, MetricName, type A2aMetricsRequest } from '@app/metrics';
import { CurrentAuth, type AuthContext } from '@app/security';
import { MessageSendRoute } from '@app/throttling';
import { Controller, HttpCode, Post, Req, Res } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Gauge } from 'prom-client';
import { A2A_LEGACY_PROTOCOL_VERSION } from '../agent/agent-card.builder.js';
import { BASE_URL_STATE_KEY } from '../agent/hosted-agent.js';
import { AgentResolver } from './agent-resolver.js';
import { pipeSse } from './sse.js';
import {
  CALLER_AWAITS_SETTLED,
  isBlockingSend,
  A2A_EXTENSIONS_HEADER,
  A2A_VERSION_HEADER,
  LEGACY_EXTENSIONS_HEADER,
  buildCallContext,
} from './call-context.js';
import { isMessageSend, operationOf } from './jsonrpc-methods.js';

type JsonRpcId = string | number | null;
type JsonRpcResponse = {
  jsonrpc: string;
  id: JsonRpcId;
  result?: unknown;
  error?: { code: number; message: string; data?: unknown };
};

const errorResponse = (id: JsonRpcId, code: number, message: string): JsonRpcResponse => ({
  jsonrpc: '2.0',
  id,
  error: { code, message },
});

function isIterable(value: unknown): value is AsyncGenerator<JsonRpcResponse, void, undefined> {
  return (
    typeof (value as { [Symbol.asyncIterator]?: unknown } | undefined)?.[Symbol.asyncIterator] ===
    'function'
  );
}

/**
 * The JSON-RPC 2.0 binding of every served agent: validates the envelope
 * (the SDK answers a malformed one with -32602 where JSON-RPC requires
 * -32600), picks the v1.0 or v0.3 transport from `A2A-Version`, and streams
 * SSE for the two streaming methods.
 */
@Controller()
export class JsonRpcController {
  constructor(
    private readonly agents: AgentResolver,
    @InjectMetric(MetricName.A2aActiveStreams) private readonly activeStreams: Gauge<'agent'>,
  ) {}

  @Post('a2a/jsonrpc')
  @HttpCode(200)
  @A2aRoute('unknown', 'jsonrpc')
  @MessageSendRoute(isMessageSend)
  async handle(
    @Req() request: FastifyRequest & A2aMetricsRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ): Promise<void> {
    const { agent, baseUrl } = this.agents.resolve(request);
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      return this.reply(
        request,
        reply,
        errorResponse(null, -32600, 'Invalid Request: expected one JSON-RPC request object'),
      );
    }
    const envelope = body as {
      jsonrpc?: unknown;
      method?: unknown;
      id?: unknown;
      params?: unknown;
    };
    const id: JsonRpcId =
      typeof envelope.id === 'string' || typeof envelope.id === 'number' ? envelope.id : null;
    if (envelope.jsonrpc !== '2.0') {
      return this.reply(
        request,
        reply,
        errorResponse(id, -32600, 'Invalid Request: jsonrpc must be "2.0"'),
      );
    }
    if (typeof envelope.method !== 'string' || envelope.method.length === 0) {
      return this.reply(
        request,
        reply,
        errorResponse(id, -32600, 'Invalid Request: method must be a string'),
      );
    }
    if (envelope.id !== undefined && envelope.id !== null && id === null) {
      return this.reply(
        request,
        reply,
        errorResponse(null, -32600, 'Invalid Request: id must be a string or number'),
      );
    }
    if (
      envelope.params !== undefined &&
      (envelope.params === null || typeof envelope.params !== 'object')
    ) {
      return this.reply(
        request,
        reply,
        errorResponse(id, -32602, 'Invalid params: params must be an object'),
      );
    }
    request.a2aMethod = operationOf(envelope.method) ?? 'unknown';

    const version = request.headers[A2A_VERSION_HEADER];
    // Without a version header a caller speaks v0.3, unless it uses a v1.0 method name.
    const legacy =
      version === A2A_LEGACY_PROTOCOL_VERSION ||
      (version === undefined && envelope.method.includes('/'));
    const context = buildCallContext(auth, request.headers, legacy);
    context.state.set(BASE_URL_STATE_KEY, baseUrl);
    if (request.a2aMethod === 'SendMessage' && isBlockingSend(envelope.params, legacy)) {
      context.state.set(CALLER_AWAITS_SETTLED, true);
    }
    const mapError = (error: unknown) =>
      legacy
        ? LegacyJsonRpcTransportHandler.mapToLegacyJSONRPCError(error)
        : JsonRpcTransportHandler.mapToJSONRPCError(error);

    let result: JsonRpcResponse | AsyncGenerator<JsonRpcResponse, void, undefined>;
    try {
      if (!legacy && version !== undefined)
        validateVersion(
          context.requestedVersion,
          await agent.requestHandler.getAgentCard(),
          'JSONRPC',
        );
      const transport = legacy ? agent.legacyJsonRpc : agent.jsonRpc;
      result = (await transport.handle(envelope, context)) as typeof result;
    } catch (error) {
      return this.reply(request, reply, { jsonrpc: '2.0', id, error: mapError(error) });
    }
    if (context.activatedExtensions?.length) {
      void reply.header(
        legacy ? LEGACY_EXTENSIONS_HEADER : A2A_EXTENSIONS_HEADER,
        context.activatedExtensions.join(','),
      );
    }
    if (!isIterable(result)) return this.reply(request, reply, result);
    await this.stream(request, reply, result, id, agent.name, mapError);
  }

  private reply(request: A2aMetricsRequest, reply: FastifyReply, response: JsonRpcResponse): void {
    request.a2aStatus = response.error ? `error_${Math.abs(response.error.code)}` : 'ok';
    void reply.status(200).header('Content-Type', 'application/json').send(response);
  }

  private async stream(
    request: FastifyRequest & A2aMetricsRequest,
    reply: FastifyReply,
    stream: AsyncGenerator<JsonRpcResponse, void, undefined>,
    id: JsonRpcId,
    agent: string,
    mapError: (error: unknown) => unknown,
  ): Promise<void> {
    let first: IteratorResult<JsonRpcResponse, void>;
    try {
      first = await stream.next();
    } catch (error) {
      const response = { jsonrpc: '2.0', id, error: mapError(error) as JsonRpcResponse['error'] };
      if (!String(request.headers.accept ?? '').includes('text/event-stream'))
        return this.reply(request, reply, response);
      // A caller that asked for an event stream gets one, even when it holds only the error
      // (the SDK's own handlers answer plain JSON here, which event-stream readers cannot parse).
      request.a2aStatus = `error_${Math.abs(response.error?.code ?? 0)}`;
      reply.hijack();
      reply.raw.writeHead(200, {
        ...SSE_HEADERS,
        ...(reply.getHeaders() as Record<string, string>),
      });
      reply.raw.end(formatSSEEvent(response));
      return;
    }
    request.a2aStatus = 'ok';
    await pipeSse(reply, {
      first,
      events: stream,
      toWire: (event) => event,
      errorToWire: (error) => ({ jsonrpc: '2.0', id, error: mapError(error) }),
      activeStreams: this.activeStreams,
      agent,
    });
  }
}
