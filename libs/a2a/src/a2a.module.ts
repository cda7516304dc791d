import { Module, type DynamicModule } from '@nestjs/common';
import { RouterModule } from '@nestjs/core';
import { A2A_MODULE_OPTIONS, type A2aModuleOptions } from './a2a.options.js';
import { A2A_AGENT_TYPES, AgentCatalog } from './agent/agent-catalog.service.js';
import { ExecutionDrain } from './agent/execution-drain.js';
import { AGENT_DIRECTORY, AgentAnnouncer, NoAgentDirectory } from './agent/agent-directory.js';
import { RunningTasksRegistry } from './events/running-tasks.registry.js';
import { TaskEventHub } from './events/task-event-hub.js';
import { TaskEventLog } from './events/task-event-log.js';
import { A2aPushModule } from './push/push.module.js';
import { TaskWriteBuffer } from './stores/task-write-buffer.js';
import { AgentCardController } from './transport/agent-card.controller.js';
import { AgentResolver } from './transport/agent-resolver.js';
import { A2aContentTypes } from './transport/content-types.js';
import { JsonRpcController } from './transport/jsonrpc.controller.js';
import { RestController } from './transport/rest.controller.js';

/**
 * Serves A2A agents: give it the `@A2aAgent()` classes and it builds each
 * one's card, stores and request handler, and routes the card and the
 * JSON-RPC binding to them (under `/agents/{name}` or at the root).
 */
@Module({})
export class A2aModule {
  static forRoot(options: A2aModuleOptions): DynamicModule {
    return {
      module: A2aModule,
      imports: [
        ...(options.imports ?? []),
        A2aPushModule.register({ worker: options.pushWorker ?? true }),
        ...(options.mount === 'per-agent'
          ? [RouterModule.register([{ path: 'agents/:agent', module: A2aModule }])]
          : []),
      ],
      controllers: [AgentCardController, JsonRpcController, RestController],
      providers: [
        { provide: A2A_MODULE_OPTIONS, useValue: options },
        { provide: A2A_AGENT_TYPES, useValue: options.agents },
        ...options.agents,
        TaskWriteBuffer,
        TaskEventLog,
        TaskEventHub,
        RunningTasksRegistry,
        ExecutionDrain,
        AgentCatalog,
        AgentResolver,
        { provide: AGENT_DIRECTORY, useClass: options.directory ?? NoAgentDirectory },
        AgentAnnouncer,
        A2aContentTypes,
      ],
      exports: [AgentCatalog],
    };
  }
}
