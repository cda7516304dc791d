import { AgentCard } from '@a2a-js/sdk';
import { LegacyJsonRpcTransportHandler } from '@a2a-js/sdk/compat/v0_3/server';
import {
  DefaultExecutionEventBusManager,
  DefaultRequestHandler,
  JsonRpcTransportHandler,
  type AgentExecutor,
  type ExecutionEventBus,
  type RequestContext,
  type ServerCallContext,
} from '@a2a-js/sdk/server';
import { createHash } from 'node:crypto';
import type { Counter, Gauge } from 'prom-client';
import { PushNotificationDispatcher } from '../push/push-notification.sender.js';
import type { DataSource } from 'typeorm';
import { GuardedRequestHandler, type RequestLimits } from '../transport/guarded-request-handler.js';
import type { TaskWriteBuffer } from '../stores/task-write-buffer.js';
import { TypeOrmPushConfigStore } from '../stores/typeorm-push-config.store.js';
import { TypeOrmTaskStore } from '../stores/typeorm-task.store.js';
import type { A2aAgentOptions } from './a2a-agent.decorator.js';
import { buildAgentCard } from './agent-card.builder.js';

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
  ) {}

  async execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    this.activeTasks.inc({ agent: this.agent });
    try {
      await this.inner.execute(context, bus);
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
  readonly pushDeliveries: Counter<'outcome'>;
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
  private readonly cards = new Map<string, ServedCard>();

  constructor(
    readonly options: A2aAgentOptions,
    executor: AgentExecutor,
    dependencies: HostedAgentDependencies,
  ) {
    const taskStore = new TypeOrmTaskStore(
      options.name,
      dependencies.dataSource,
      dependencies.writeBuffer,
    );
    const pushStore = new TypeOrmPushConfigStore(options.name, dependencies.dataSource);
    const card = buildAgentCard(options, dependencies.defaultBaseUrl);
    const handler = new DefaultRequestHandler(
      card,
      taskStore,
      new MeasuredExecutor(executor, options.name, dependencies.activeTasks),
      new DefaultExecutionEventBusManager(),
      pushStore,
      new PushNotificationDispatcher(pushStore, {
        timeoutMs: 10_000,
        deliveries: dependencies.pushDeliveries,
      }),
      (context: ServerCallContext) =>
        Promise.resolve(this.cardAt(baseUrlOf(context, dependencies.defaultBaseUrl))),
    );
    this.requestHandler = new GuardedRequestHandler(handler, taskStore, dependencies.limits);
    this.jsonRpc = new JsonRpcTransportHandler(this.requestHandler);
    this.legacyJsonRpc = new LegacyJsonRpcTransportHandler(this.requestHandler);
  }

  get name(): string {
    return this.options.name;
  }

  /** The card as served at `baseUrl`, built and serialised once per base URL. */
  servedCard(baseUrl: string): ServedCard {
    let served = this.cards.get(baseUrl);
    if (served === undefined) {
      const body = JSON.stringify(AgentCard.toJSON(this.cardAt(baseUrl)));
      served = {
        body,
        etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"`,
      };
      if (this.cards.size > 64) this.cards.clear();
      this.cards.set(baseUrl, served);
    }
    return served;
  }

  private cardAt(baseUrl: string): AgentCard {
    return buildAgentCard(this.options, baseUrl);
  }
}

function baseUrlOf(context: ServerCallContext, fallback: string): string {
  const value = context.state.get(BASE_URL_STATE_KEY);
  return typeof value === 'string' ? value : fallback;
}
