import { A2aModule, A2aPushModule } from '@app/a2a';
import { WorkerMode, type PlatformConfig } from '@app/config';
import { PlatformModule } from '@app/platform';
import { Module, type DynamicModule } from '@nestjs/common';
import { OrchestratorAgent } from './agent/orchestrator.agent.js';
import { RunsModule } from './runs/runs.module.js';

/**
 * Runs multi-agent workflows as BullMQ jobs with state in PostgreSQL, and is
 * an A2A agent itself. WORKER_MODE splits it: `http` serves the API and the
 * A2A endpoints, `worker` executes steps and reconciles runs (serving only
 * health and metrics), `all` does both.
 */
@Module({})
export class OrchestratorModule {
  static register(config: PlatformConfig): DynamicModule {
    const mode = config.app.workerMode;
    const api = mode !== WorkerMode.Worker;
    const runs = RunsModule.register({ api, workers: mode !== WorkerMode.Http });
    return {
      module: OrchestratorModule,
      imports: [
        PlatformModule.forRoot(config),
        runs,
        ...(api
          ? [
              A2aModule.forRoot({
                agents: [OrchestratorAgent],
                mount: 'root',
                imports: [runs],
                pushWorker: mode !== WorkerMode.Http,
              }),
            ]
          : // Worker processes deliver the push notifications of the orchestrator's tasks.
            [A2aPushModule.register({ worker: true, api: false })]),
      ],
    };
  }
}
