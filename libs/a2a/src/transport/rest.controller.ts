import {
  A2A_CONTENT_TYPE,
  AgentCard,
  ListTaskPushNotificationConfigsResponse,
  ListTasksRequest,
  SendMessageRequest,
  SendMessageResponse,
  StreamResponse,
  Task,
  TaskPushNotificationConfig,
} from '@a2a-js/sdk';
import {
  A2AError,
  RequestMalformedError,
  UnsupportedOperationError,
  restStatusFor,
  toRestErrorBody,
} from '@a2a-js/sdk/errors';
import { validateVersion, type ServerCallContext } from '@a2a-js/sdk/server';
import { A2aRoute, InjectMetric, MetricName, type A2aMetricsRequest } from '@app/metrics';
import { CurrentAuth, type AuthContext } from '@app/security';
import { MessageSendRoute } from '@app/throttling';
import { Controller, Delete, Get, Logger, Post, Req, Res } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Gauge } from 'prom-client';
import { BASE_URL_STATE_KEY, type HostedAgent } from '../agent/hosted-agent.js';
import { AgentResolver } from './agent-resolver.js';
import { pipeSse } from './sse.js';
import {
  A2A_EXTENSIONS_HEADER,
  CALLER_AWAITS_SETTLED,
  buildCallContext,
  isBlockingSend,
} from './call-context.js';

type Params = {
  agent?: string;
  tenant?: string;
  task?: string;
  configId?: string;
  action?: string;
};
type Query = Record<string, string | string[] | undefined>;
type RestRequest = FastifyRequest<{ Params: Params; Querystring: Query }> & A2aMetricsRequest;

/** Serialises one SDK message type to its wire form. */
type Wire = { toJSON(value: never): unknown };

const isMessageSendAction = (request: { params?: unknown }) =>
  ['message:send', 'message:stream'].includes((request.params as Params | undefined)?.action ?? '');

/** Converts a wire object with the SDK's ts-proto converters, which throw TypeErrors on wrong shapes. */
function fromWire<T>(what: string, convert: () => T): T {
  try {
    return convert();
  } catch (error) {
    throw new RequestMalformedError(
      `The request is not a valid ${what}: ${(error as Error).message}`,
    );
  }
}

function single(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value[0] : value;
}

function integer(value: string | undefined, name: string): number | undefined {
  if (value === undefined || value === '') return undefined;
  if (!/^-?\d+$/.test(value)) throw new RequestMalformedError(`${name} must be an integer`);
  return Number(value);
}

/** Every HTTP+JSON path also exists under a `/{tenant}` prefix. */
const withTenant = (path: string): string[] => [path, `:tenant/${path}`];

/** The push-notification config a path names. */
const configRef = (request: RestRequest) => ({
  tenant: '',
  taskId: request.params.task ?? '',
  id: request.params.configId ?? '',
});

/** `{id}:{verb}` in one path segment, as the HTTP+JSON binding writes custom methods. */
function splitVerb(segment: string): { id: string; verb?: string } {
  const at = segment.lastIndexOf(':');
  return at > 0 ? { id: segment.slice(0, at), verb: segment.slice(at + 1) } : { id: segment };
}

/**
 * The HTTP+JSON binding of every served agent, at `/a2a/rest` and under a
 * `/{tenant}` prefix. The tenant always comes from the credentials: a path
 * tenant must name the caller's own. Errors use the binding's
 * `{"error": {code, status, message, details}}` body.
 */
@Controller('a2a/rest')
export class RestController {
  private readonly logger = new Logger('A2aRequests');
  constructor(
    private readonly agents: AgentResolver,
    @InjectMetric(MetricName.A2aActiveStreams) private readonly activeStreams: Gauge<'agent'>,
  ) {}

  @Get(withTenant('extendedAgentCard'))
  @A2aRoute('GetExtendedAgentCard')
  extendedCard(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    return this.run(request, reply, auth, 'GetExtendedAgentCard', async (agent, context) =>
      ok(
        AgentCard,
        await agent.requestHandler.getAuthenticatedExtendedAgentCard({ tenant: '' }, context),
      ),
    );
  }

  @Post(withTenant(':action'))
  @A2aRoute('SendMessage')
  @MessageSendRoute(isMessageSendAction)
  message(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    const action = request.params.action;
    if (action === 'message:stream') {
      return this.run(request, reply, auth, 'SendStreamingMessage', (agent, context) =>
        Promise.resolve(
          stream(agent.requestHandler.sendMessageStream(this.sendParams(request), context)),
        ),
      );
    }
    return this.run(request, reply, auth, 'SendMessage', async (agent, context) => {
      if (action !== 'message:send')
        throw new UnsupportedOperationError(`Unknown operation "${action ?? ''}"`);
      if (isBlockingSend(request.body, false)) context.state.set(CALLER_AWAITS_SETTLED, true);
      const result = await agent.requestHandler.sendMessage(this.sendParams(request), context);
      return ok(SendMessageResponse, {
        payload:
          'messageId' in result
            ? { $case: 'message', value: result }
            : { $case: 'task', value: result },
      });
    });
  }

  @Get(withTenant('tasks'))
  @A2aRoute('ListTasks')
  listTasks(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    return this.run(request, reply, auth, 'ListTasks', async (agent, context) => {
      const query = request.query;
      const params = fromWire('ListTasks parameters', () =>
        ListTasksRequest.fromJSON({
          contextId: single(query.contextId),
          status: single(query.status),
          pageToken: single(query.pageToken),
          statusTimestampAfter: single(query.statusTimestampAfter),
        }),
      );
      params.pageSize = integer(single(query.pageSize), 'pageSize');
      params.historyLength = integer(single(query.historyLength), 'historyLength');
      params.includeArtifacts = single(query.includeArtifacts) === 'true';
      return ok(ListTasksResponseWire, await agent.requestHandler.listTasks(params, context));
    });
  }

  @Get(withTenant('tasks/:task'))
  @A2aRoute('GetTask')
  getTask(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    const { id, verb } = splitVerb(request.params.task ?? '');
    if (verb === 'subscribe') return this.subscribe(request, reply, auth);
    return this.run(request, reply, auth, 'GetTask', async (agent, context) => {
      if (verb !== undefined) throw new UnsupportedOperationError(`Unknown operation "${verb}"`);
      const historyLength = integer(single(request.query.historyLength), 'historyLength');
      return ok(
        Task,
        await agent.requestHandler.getTask({ tenant: '', id, historyLength }, context),
      );
    });
  }

  @Post(withTenant('tasks/:task'))
  @A2aRoute('CancelTask')
  taskAction(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    const { id, verb } = splitVerb(request.params.task ?? '');
    if (verb === 'subscribe') return this.subscribe(request, reply, auth);
    return this.run(request, reply, auth, 'CancelTask', async (agent, context) => {
      if (verb !== 'cancel')
        throw new UnsupportedOperationError(`Unknown operation "${verb ?? ''}"`);
      return ok(
        Task,
        await agent.requestHandler.cancelTask({ tenant: '', id, metadata: undefined }, context),
      );
    });
  }

  @Post(withTenant('tasks/:task/pushNotificationConfigs'))
  @A2aRoute('CreateTaskPushNotificationConfig')
  createPushConfig(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    return this.run(
      request,
      reply,
      auth,
      'CreateTaskPushNotificationConfig',
      async (agent, context) => {
        const body = (request.body ?? {}) as Record<string, unknown>;
        const params = fromWire('TaskPushNotificationConfig', () =>
          TaskPushNotificationConfig.fromJSON({ ...body, taskId: request.params.task }),
        );
        return ok(
          TaskPushNotificationConfig,
          await agent.requestHandler.createTaskPushNotificationConfig(params, context),
          201,
        );
      },
    );
  }

  @Get(withTenant('tasks/:task/pushNotificationConfigs'))
  @A2aRoute('ListTaskPushNotificationConfigs')
  listPushConfigs(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    return this.run(
      request,
      reply,
      auth,
      'ListTaskPushNotificationConfigs',
      async (agent, context) =>
        ok(
          ListTaskPushNotificationConfigsResponse,
          await agent.requestHandler.listTaskPushNotificationConfigs(
            { tenant: '', taskId: request.params.task ?? '', pageSize: 0, pageToken: '' },
            context,
          ),
        ),
    );
  }

  @Get(withTenant('tasks/:task/pushNotificationConfigs/:configId'))
  @A2aRoute('GetTaskPushNotificationConfig')
  getPushConfig(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    return this.run(request, reply, auth, 'GetTaskPushNotificationConfig', async (agent, context) =>
      ok(
        TaskPushNotificationConfig,
        await agent.requestHandler.getTaskPushNotificationConfig(configRef(request), context),
      ),
    );
  }

  @Delete(withTenant('tasks/:task/pushNotificationConfigs/:configId'))
  @A2aRoute('DeleteTaskPushNotificationConfig')
  deletePushConfig(
    @Req() request: RestRequest,
    @Res() reply: FastifyReply,
    @CurrentAuth() auth: AuthContext,
  ) {
    return this.run(
      request,
      reply,
      auth,
      'DeleteTaskPushNotificationConfig',
      async (agent, context) => {
        await agent.requestHandler.deleteTaskPushNotificationConfig(configRef(request), context);
        return { status: 204 };
      },
    );
  }

  private subscribe(request: RestRequest, reply: FastifyReply, auth: AuthContext) {
    const { id } = splitVerb(request.params.task ?? '');
    return this.run(request, reply, auth, 'SubscribeToTask', (agent, context) =>
      Promise.resolve(stream(agent.requestHandler.resubscribe({ tenant: '', id }, context))),
    );
  }

  private sendParams(request: RestRequest): SendMessageRequest {
    const body = request.body;
    if (body === null || typeof body !== 'object' || Array.isArray(body)) {
      throw new RequestMalformedError('The body must be a SendMessageRequest object');
    }
    return fromWire('SendMessageRequest', () => SendMessageRequest.fromJSON(body));
  }

  /** Resolves agent and context, runs the operation, writes its answer or its error in the binding's shape. */
  private async run(
    request: RestRequest,
    reply: FastifyReply,
    auth: AuthContext,
    method: string,
    operation: (agent: HostedAgent, context: ServerCallContext) => Promise<Outcome>,
  ): Promise<void> {
    request.a2aMethod = method;
    const { agent, baseUrl } = this.agents.resolve(request);
    let context: ServerCallContext | undefined;
    let outcome: Outcome;
    try {
      if (request.params.tenant !== undefined && request.params.tenant !== auth.tenantId) {
        throw new RequestMalformedError(
          'The tenant in the path is not the tenant of the credentials',
        );
      }
      context = buildCallContext(auth, request.headers, false);
      context.state.set(BASE_URL_STATE_KEY, baseUrl);
      if (request.headers['a2a-version'] !== undefined) {
        validateVersion(
          context.requestedVersion,
          await agent.requestHandler.getAgentCard(),
          'HTTP+JSON',
        );
      }
      outcome = await operation(agent, context);
    } catch (error) {
      return this.fail(request, reply, error);
    }
    if (context.activatedExtensions?.length)
      void reply.header(A2A_EXTENSIONS_HEADER, context.activatedExtensions.join(','));
    if ('events' in outcome) return this.stream(request, reply, outcome.events, agent.name);
    request.a2aStatus = 'ok';
    if (outcome.status === 204) {
      void reply.status(204).send();
      return;
    }
    void reply.status(outcome.status).header('Content-Type', A2A_CONTENT_TYPE).send(outcome.body);
  }

  private fail(request: A2aMetricsRequest, reply: FastifyReply, caught: unknown): void {
    // Protocol errors go out as they are; anything else is logged and answered without its internals.
    let error = caught;
    if (!(caught instanceof A2AError)) {
      const errorId = randomUUID();
      this.logger.error({ err: caught, errorId }, `A2A request failed (${errorId})`);
      error = new Error(`Internal error (error id ${errorId})`);
    }
    const status = restStatusFor(error);
    const body = toRestErrorBody(error, status);
    request.a2aStatus = body.error.status.toLowerCase();
    void reply.status(status).header('Content-Type', A2A_CONTENT_TYPE).send(body);
  }

  private async stream(
    request: A2aMetricsRequest,
    reply: FastifyReply,
    events: AsyncGenerator<StreamResponseValue, void, undefined>,
    agent: string,
  ): Promise<void> {
    let first: IteratorResult<StreamResponseValue, void>;
    try {
      first = await events.next();
    } catch (error) {
      return this.fail(request, reply, error);
    }
    request.a2aStatus = 'ok';
    await pipeSse(reply, {
      first,
      events,
      toWire: (event) => StreamResponse.toJSON(event),
      errorToWire: (error) => toRestErrorBody(error, restStatusFor(error)),
      activeStreams: this.activeStreams,
      agent,
    });
  }
}

type StreamResponseValue = StreamResponse;
type Outcome =
  | { status: number; body?: unknown }
  | { events: AsyncGenerator<StreamResponseValue, void, undefined> };

function ok<T>(type: { toJSON(value: T): unknown }, value: T, status = 200): Outcome {
  return { status, body: type.toJSON(value) };
}

function stream(events: AsyncGenerator<StreamResponseValue, void, undefined>): Outcome {
  return { events };
}

/** ListTasksResponse in wire form; the store already left artifacts out unless asked for. */
const ListTasksResponseWire = {
  toJSON: (value: {
    tasks: Task[];
    nextPageToken: string;
    pageSize: number;
    totalSize: number;
  }) => ({
    tasks: value.tasks.map((task) => Task.toJSON(task)),
    nextPageToken: value.nextPageToken,
    pageSize: value.pageSize,
    totalSize: value.totalSize,
  }),
} satisfies Wire;
