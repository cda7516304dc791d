import type { PlatformConfigService } from '@app/config';
import { Inject, Injectable, NotFoundException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { FastifyRequest } from 'fastify';
import { A2A_MODULE_OPTIONS, agentBasePath, type A2aModuleOptions } from '../a2a.options.js';
import { AgentCatalog } from '../agent/agent-catalog.service.js';
import type { HostedAgent } from '../agent/hosted-agent.js';

/** Finds the agent a request addresses and the base URL the caller reached it at. */
@Injectable()
export class AgentResolver {
  constructor(
    private readonly catalog: AgentCatalog,
    @Inject(A2A_MODULE_OPTIONS) private readonly options: A2aModuleOptions,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
  ) {}

  resolve(request: FastifyRequest): { agent: HostedAgent; baseUrl: string } {
    const name = (request.params as { agent?: string } | undefined)?.agent;
    const agent = name === undefined ? this.catalog.single() : this.catalog.get(name);
    if (agent === undefined)
      throw new NotFoundException(`No agent named "${name ?? ''}" is served here`);
    const publicUrl =
      this.config.get('a2a', { infer: true }).publicUrl ?? `${request.protocol}://${request.host}`;
    return { agent, baseUrl: `${publicUrl}${agentBasePath(this.options, agent.name)}` };
  }
}
