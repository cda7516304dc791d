import { InjectMetric, MetricName } from '@app/metrics';
import {
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import type { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';

const INTERVAL_MS = 5_000;

/**
 * Keeps the registry's health gauges equal to what PostgreSQL holds, on every
 * replica (the replica that handled a heartbeat or probe sets them at once;
 * the others catch up here, so no replica reports a stale state for long):
 * `a2a_agent_health{agent_id}` per registered instance, and
 * `a2a_registry_healthy_instances{tenant,skill}`, which reads 0 while every
 * instance offering a skill is unhealthy (the "no healthy instance" alert).
 */
@Injectable()
export class RegistryHealthReporter implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RegistryHealthReporter.name);
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly dataSource: DataSource,
    @InjectMetric(MetricName.A2aAgentHealth) private readonly agentHealth: Gauge<'agent_id'>,
    @InjectMetric(MetricName.RegistryHealthyInstances)
    private readonly healthyInstances: Gauge<'tenant' | 'skill'>,
  ) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.report(), INTERVAL_MS);
    this.timer.unref();
    void this.report();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
  }

  async report(): Promise<void> {
    if (!this.dataSource.isInitialized) return;
    try {
      const [instances, skills] = await Promise.all([
        this.dataSource.query<Array<{ id: string; healthy: boolean }>>(
          `SELECT id, status = 'healthy' AS healthy FROM agent_registrations`,
        ),
        this.dataSource.query<Array<{ tenant_id: string; skill: string; healthy: number }>>(
          `SELECT r.tenant_id, skill, count(*) FILTER (WHERE r.status = 'healthy')::int AS healthy
           FROM agent_registrations r CROSS JOIN LATERAL unnest(r.skills) AS skill
           GROUP BY r.tenant_id, skill`,
        ),
      ]);
      this.agentHealth.reset();
      for (const row of instances) this.agentHealth.set({ agent_id: row.id }, row.healthy ? 1 : 0);
      this.healthyInstances.reset();
      for (const row of skills)
        this.healthyInstances.set({ tenant: row.tenant_id, skill: row.skill }, row.healthy);
    } catch (error) {
      this.logger.debug(`Registry health unavailable: ${(error as Error).message}`);
    }
  }
}
