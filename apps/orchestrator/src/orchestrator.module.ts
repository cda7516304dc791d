import { A2aModule } from '@app/a2a';
import type { PlatformConfig } from '@app/config';
import { PlatformModule } from '@app/platform';
import { Module, type DynamicModule } from '@nestjs/common';
import { OrchestratorAgent } from './agent/orchestrator.agent.js';
import { RunsModule } from './runs/runs.module.js';

/** Runs multi-agent workflows as BullMQ jobs with state in PostgreSQL, and is an A2A agent itself. */
@Module({})
export class OrchestratorModule {
  static register(config: PlatformConfig): DynamicModule {
    return {
      module: OrchestratorModule,
      imports: [
        PlatformModule.forRoot(config),
        RunsModule,
        A2aModule.forRoot({ agents: [OrchestratorAgent], mount: 'root', imports: [RunsModule] }),
      ],
    };
  }
}
