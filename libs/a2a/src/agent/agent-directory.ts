import type { PlatformConfigService } from '@app/config';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HttpAdapterHost } from '@nestjs/core';
import type { Server } from 'node:http';
import { A2A_MODULE_OPTIONS, agentBasePath, type A2aModuleOptions } from '../a2a.options.js';
import { AgentCatalog } from './agent-catalog.service.js';
import { A2A_PATHS } from './agent-card.builder.js';

/** An agent this instance serves, as a directory (the registry) needs to know it. */
export interface AnnouncedAgent {
  readonly name: string;
  /** Where the agent's card is served; the directory fetches the card from there. */
  readonly cardUrl: string;
}

/**
 * Where served agents are announced so that other teams find them: the
 * registry, through its client, once it exists. `announce` at start-up,
 * `withdraw` on graceful shutdown.
 */
export interface AgentDirectory {
  announce(instanceId: string, agents: readonly AnnouncedAgent[]): Promise<void>;
  withdraw(instanceId: string): Promise<void>;
}

export const AGENT_DIRECTORY = Symbol('AGENT_DIRECTORY');

/** The directory of an app that has no registry to talk to: it says so once. */
@Injectable()
export class NoAgentDirectory implements AgentDirectory {
  private readonly logger = new Logger('AgentDirectory');

  announce(_instanceId: string, agents: readonly AnnouncedAgent[]): Promise<void> {
    this.logger.log(
      `No registry configured: agents are reachable by their cards only (${agents.map((agent) => agent.cardUrl).join(', ')})`,
    );
    return Promise.resolve();
  }

  withdraw(): Promise<void> {
    return Promise.resolve();
  }
}

/** Announces the served agents once the app is up, and withdraws them on graceful shutdown. */
@Injectable()
export class AgentAnnouncer implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(AgentAnnouncer.name);

  constructor(
    private readonly catalog: AgentCatalog,
    @Inject(AGENT_DIRECTORY) private readonly directory: AgentDirectory,
    @Inject(A2A_MODULE_OPTIONS) private readonly options: A2aModuleOptions,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
    private readonly adapterHost: HttpAdapterHost,
  ) {}

  onApplicationBootstrap(): void {
    // The registry fetches the cards it is told about: announce once the server listens.
    const server = this.adapterHost.httpAdapter?.getHttpServer() as Server | undefined;
    if (server === undefined || server.listening) {
      void this.announce();
      return;
    }
    server.once('listening', () => void this.announce());
  }

  private async announce(): Promise<void> {
    const app = this.config.get('app', { infer: true });
    const base =
      this.config.get('a2a', { infer: true }).publicUrl ?? `http://localhost:${app.port}`;
    const agents = this.catalog.list().map((agent) => ({
      name: agent.name,
      cardUrl: `${base}${agentBasePath(this.options, agent.name)}${A2A_PATHS.card}`,
    }));
    await this.directory.announce(app.instanceId, agents).catch((error: unknown) => {
      this.logger.warn(`Announcing agents failed: ${(error as Error).message}`);
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.directory
      .withdraw(this.config.get('app', { infer: true }).instanceId)
      .catch((error: unknown) => {
        this.logger.warn(`Withdrawing agents failed: ${(error as Error).message}`);
      });
  }
}
