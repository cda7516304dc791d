import type { AgentDirectory, AnnouncedAgent } from '@app/a2a';
import type { PlatformConfigService } from '@app/config';
import { Inject, Injectable, Logger } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { RegistryClient, RegistryError } from './registry.client.js';

/**
 * Announces this instance's agents to the registry: registers each card URL,
 * heartbeats every interval (registering again whenever the registry has
 * forgotten an agent or was away), and deregisters them on graceful shutdown.
 */
@Injectable()
export class RegistryAgentDirectory implements AgentDirectory {
  private readonly logger = new Logger('RegistryDirectory');
  private readonly client: RegistryClient;
  private readonly intervalMs: number;
  private readonly registered = new Map<string, string>();
  private agents: readonly AnnouncedAgent[] = [];
  private timer?: NodeJS.Timeout;

  constructor(@Inject(ConfigService) config: PlatformConfigService) {
    const registry = config.get('registry', { infer: true });
    if (registry.url === undefined) throw new Error('RegistryAgentDirectory needs REGISTRY_URL');
    this.client = new RegistryClient(registry.url, registry.apiKey);
    this.intervalMs = registry.heartbeatIntervalSeconds * 1000;
  }

  async announce(_instanceId: string, agents: readonly AnnouncedAgent[]): Promise<void> {
    this.agents = agents;
    await this.beat();
    this.timer = setInterval(() => void this.beat(), this.intervalMs);
    this.timer.unref();
  }

  async withdraw(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all(
      [...this.registered.values()].map((id) =>
        this.client.deregister(id).catch((error: unknown) => {
          this.logger.warn(`Deregistering ${id} failed: ${(error as Error).message}`);
        }),
      ),
    );
    this.registered.clear();
  }

  private async beat(): Promise<void> {
    await Promise.all(this.agents.map((agent) => this.keepRegistered(agent)));
  }

  private async keepRegistered(agent: AnnouncedAgent): Promise<void> {
    const id = this.registered.get(agent.cardUrl);
    try {
      if (id !== undefined) {
        await this.client.heartbeat(id);
        return;
      }
    } catch (error) {
      if (!(error instanceof RegistryError && error.status === 404)) {
        this.logger.warn(`Heartbeat of ${agent.name} failed: ${(error as Error).message}`);
        return;
      }
      this.registered.delete(agent.cardUrl);
    }
    try {
      const registration = await this.client.register(agent.cardUrl);
      this.registered.set(agent.cardUrl, registration.id);
      this.logger.log(`Registered ${agent.name} as ${registration.id}`);
    } catch (error) {
      this.logger.warn(`Registering ${agent.name} failed: ${(error as Error).message}`);
    }
  }
}
