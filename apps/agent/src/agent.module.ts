import { A2aModule } from '@app/a2a';
import type { PlatformConfig } from '@app/config';
import { PlatformModule } from '@app/platform';
import { RegistryAgentDirectory } from '@app/registry-client';
import { Module, type DynamicModule } from '@nestjs/common';
import { selectAgents } from './agents/index.js';

/**
 * Hosts the agent modules named in `AGENTS`, each served over A2A under
 * `/agents/{name}`, and registers them with the registry when `REGISTRY_URL` is set.
 */
@Module({})
export class AgentModule {
  static register(config: PlatformConfig): DynamicModule {
    return {
      module: AgentModule,
      imports: [
        PlatformModule.forRoot(config),
        A2aModule.forRoot({
          agents: selectAgents(config.a2a.agents),
          mount: 'per-agent',
          directory: config.registry.url ? RegistryAgentDirectory : undefined,
        }),
      ],
    };
  }
}
