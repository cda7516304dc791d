import { AgentCard } from '@a2a-js/sdk';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import {
  DefaultRequestHandler,
  ServerCallContext,
  JsonRpcTransportHandler,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
} from '@a2a-js/sdk/server';
import { ApiKeyRole } from '@app/persistence';
import { createHash } from 'node:crypto';
import type { PushConfig } from '@app/config';
import type { JobProducer } from '@app/queues';
import type { Gauge } from 'prom-client';
import type { DataSource } from 'typeorm';
import { DurableEventBusManager } from '../events/durable-event-bus.js';
import type { RunningTasksRegistry, TaskControlRequest } from '../events/running-tasks.registry.js';
import type { TaskEventHub } from '../events/task-event-hub.js';
import type { TaskEventLog } from '../events/task-event-log.js';
import { TaskStreams } from '../events/task-streams.js';
import { QueuedPushSender } from '../push/push-notification.sender.js';
import { PlatformUser } from '../transport/call-context.js';
import { JWKS_PATH, type PlatformKeys } from '../signing/platform-keys.js';
import { GuardedRequestHandler, type RequestLimits } from '../transport/guarded-request-handler.js';
import type { TaskWriteBuffer } from '../stores/task-write-buffer.js';
import { TypeOrmPushConfigStore } from '../stores/typeorm-push-config.store.js';
import { TypeOrmTaskStore } from '../stores/typeorm-task.store.js';
import type { A2aAgentOptions } from './a2a-agent.decorator.js';
import { buildAgentCard } from './agent-card.builder.js';
import { SendMessageHandler } from './send-message.handler.js';
import type { ExecutionDrain } from './execution-drain.js';

/** Where the controller leaves the base URL the caller reached the agent at. */
export const BASE_URL_STATE_KEY = 'a2a.baseUrl';

export interface ServedCard {
  /** The card in ProtoJSON wire form, serialised once. */
  readonly body: string;
  readonly etag: string;
}

/** Counts the tasks this instance is executing. */
class MeasuredExecutor implements AgentExecutor {
  constructor(
    private readonly inner: AgentExecutor,
    private readonly agent: string,
    private readonly activeTasks: Gauge<'agent'>,
    private readonly drain: ExecutionDrain,
  ) {}

  async execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    this.activeTasks.inc({ agent: this.agent });
    try {
      await this.drain.track(this.inner.execute(context, bus));
    } finally {
      this.activeTasks.dec({ agent: this.agent });
    }
  }

  cancelTask(taskId: string, bus: ExecutionEventBus): Promise<void> {
    return this.inner.cancelTask(taskId, bus);
  }
}

export interface HostedAgentDependencies {
  readonly dataSource: DataSource;
  readonly writeBuffer: TaskWriteBuffer;
  readonly limits: RequestLimits;
  readonly activeTasks: Gauge<'agent'>;
  readonly jobs: JobProducer;
  readonly push: PushConfig;
  readonly keys: PlatformKeys;
  readonly eventLog: TaskEventLog;
  readonly eventHub: TaskEventHub;
  readonly runningTasks: RunningTasksRegistry;
  readonly drain: ExecutionDrain;
  /** Base URL used where no request tells it (the request handler's own card). */
  readonly defaultBaseUrl: string;
}

/**
 * One agent as the platform serves it: its card, its PostgreSQL stores, the
 * SDK request handler behind our input checks, and the JSON-RPC transports
 * for v1.0 and v0.3 callers.
 */
export class HostedAgent {
  readonly requestHandler: GuardedRequestHandler;
  readonly jsonRpc: JsonRpcTransportHandler;
  readonly legacyJsonRpc: LegacyJsonRpcTransportHandler;
  private readonly cards = new Map<string, Promise<ServedCard>>();
  private readonly keys: PlatformKeys;

  constructor(
    readonly options: A2aAgentOptions,
    executor: AgentExecutor,
    dependencies: HostedAgentDependencies,
  ) {
    const taskStore = new TypeOrmTaskStore(
      options.name,
      dependencies.dataSource,
      dependencies.writeBuffer,
      dependencies.eventLog,
    );
    this.keys = dependencies.keys;
    const pushStore = new TypeOrmPushConfigStore(
      options.name,
      dependencies.dataSource,
      dependencies.push,
    );
    const card = buildAgentCard(options, dependencies.defaultBaseUrl);
    const buses = new DurableEventBusManager(dependencies.eventLog, dependencies.runningTasks);
    const measured = new MeasuredExecutor(
      executor,
      options.name,
      dependencies.activeTasks,
      dependencies.drain,
    );
    const pushSender = new QueuedPushSender(
      options.name,
      pushStore,
      dependencies.jobs,
      dependencies.push,
      dependencies.eventLog,
    );
    const handler = new DefaultRequestHandler(
      card,
      taskStore,
      measured,
      buses,
      pushStore,
      pushSender,
      (context: ServerCallContext) =>
        Promise.resolve(this.cardAt(baseUrlOf(context, dependencies.defaultBaseUrl))),
    );
    this.requestHandler = new GuardedRequestHandler(
      handler,
      taskStore,
      dependencies.limits,
      new TaskStreams(
        options.name,
        taskStore,
        dependencies.eventLog,
        dependencies.eventHub,
        dependencies.runningTasks,
        buses,
      ),
      () => dependencies.drain.isAccepting,
      new SendMessageHandler({
        card,
        store: taskStore,
        executor: measured,
        buses,
        pushConfigs: pushStore,
        push: pushSender,
      }),
    );
    dependencies.runningTasks.handle(options.name, (request) => this.control(request));
    this.jsonRpc = new JsonRpcTransportHandler(this.requestHandler);
    this.legacyJsonRpc = new LegacyJsonRpcTransportHandler(this.requestHandler);
  }

  get name(): string {
    return this.options.name;
  }

  /**
   * The card as served at `baseUrl`, built, signed (when the platform has a
   * configured key) and serialised once per base URL.
   */
  servedCard(baseUrl: string): Promise<ServedCard> {
    let served = this.cards.get(baseUrl);
    if (served === undefined) {
      served = this.serve(baseUrl);
      if (this.cards.size > 64) this.cards.clear();
      this.cards.set(baseUrl, served);
      served.catch(() => this.cards.delete(baseUrl));
    }
    return served;
  }

  private async serve(baseUrl: string): Promise<ServedCard> {
    let wire = AgentCard.toJSON(this.cardAt(baseUrl)) as Record<string, unknown>;
    if (this.keys.signsCards) {
      const appBase = baseUrl.endsWith(`/agents/${this.name}`)
        ? baseUrl.slice(0, -`/agents/${this.name}`.length)
        : baseUrl;
      wire = await this.keys.signCard(wire, `${appBase}${JWKS_PATH}`);
    }
    const body = JSON.stringify(wire);
    return {
      body,
      etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
    };
  }

  /** A request from another replica about a task this one executes. */
  private async control(request: TaskControlRequest): Promise<void> {
    const context = new ServerCallContext({
      user: new PlatformUser({
        tenantId: request.tenantId,
        apiKeyId: request.owner,
        role: ApiKeyRole.Member,
      }),
      tenant: request.tenantId,
    });
    await this.requestHandler.cancelTask(
      { tenant: '', id: request.taskId, metadata: undefined },
      context,
    );
  }

  private cardAt(baseUrl: string): AgentCard {
    return buildAgentCard(this.options, baseUrl);
  }
}

function baseUrlOf(context: ServerCallContext, fallback: string): string {
  const value = context.state.get(BASE_URL_STATE_KEY);
  return typeof value === 'string' ? value : fallback;
}
