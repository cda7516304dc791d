import type { AgentExecutor } from '@a2a-js/sdk/server';
import type { PlatformConfigService } from '@app/config';
import { InjectMetric, MetricName } from '@app/metrics';
import { Inject, Injectable, Logger, type OnModuleInit, type Type } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { ModuleRef } from '@nestjs/core';
import { JobProducer } from '@app/queues';
import type { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { RunningTasksRegistry } from '../events/running-tasks.registry.js';
import { TaskEventHub } from '../events/task-event-hub.js';
import { TaskEventLog } from '../events/task-event-log.js';
import { PlatformKeys } from '../signing/platform-keys.js';
import { TaskWriteBuffer } from '../stores/task-write-buffer.js';
import { agentOptionsOf } from './a2a-agent.decorator.js';
import { ExecutionDrain } from './execution-drain.js';
import { HostedAgent } from './hosted-agent.js';

export const A2A_AGENT_TYPES = Symbol('A2A_AGENT_TYPES');

/** The agents this app serves, by name. */
@Injectable()
export class AgentCatalog implements OnModuleInit {
  private readonly logger = new Logger(AgentCatalog.name);
  private readonly agents = new Map<string, HostedAgent>();

  constructor(
    private readonly moduleRef: ModuleRef,
    private readonly dataSource: DataSource,
    private readonly writeBuffer: TaskWriteBuffer,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
    @Inject(A2A_AGENT_TYPES) private readonly types: ReadonlyArray<Type<AgentExecutor>>,
    @InjectMetric(MetricName.A2aActiveTasks) private readonly activeTasks: Gauge<'agent'>,
    private readonly jobs: JobProducer,
    private readonly keys: PlatformKeys,
    private readonly eventLog: TaskEventLog,
    private readonly eventHub: TaskEventHub,
    private readonly runningTasks: RunningTasksRegistry,
    private readonly drain: ExecutionDrain,
  ) {}

  onModuleInit(): void {
    const app = this.config.get('app', { infer: true });
    const a2a = this.config.get('a2a', { infer: true });
    for (const type of this.types) {
      const options = agentOptionsOf(type);
      if (options === undefined) throw new Error(`${type.name} is not decorated with @A2aAgent()`);
      if (this.agents.has(options.name)) throw new Error(`Two agents are named "${options.name}"`);
      const executor = this.moduleRef.get(type, { strict: false });
      const base = a2a.publicUrl ?? `http://localhost:${app.port}`;
      this.agents.set(
        options.name,
        new HostedAgent(options, executor, {
          dataSource: this.dataSource,
          writeBuffer: this.writeBuffer,
          limits: { maxParts: a2a.maxParts },
          activeTasks: this.activeTasks,
          jobs: this.jobs,
          push: a2a.push,
          keys: this.keys,
          eventLog: this.eventLog,
          eventHub: this.eventHub,
          runningTasks: this.runningTasks,
          drain: this.drain,
          defaultBaseUrl: `${base}/agents/${options.name}`,
        }),
      );
    }
    this.logger.log(`Serving agents: ${[...this.agents.keys()].join(', ') || 'none'}`);
  }

  get(name: string): HostedAgent | undefined {
    return this.agents.get(name);
  }

  /** The only agent, for apps that serve exactly one (the orchestrator). */
  single(): HostedAgent | undefined {
    return this.agents.size === 1 ? this.agents.values().next().value : undefined;
  }

  list(): HostedAgent[] {
    return [...this.agents.values()];
  }
}
