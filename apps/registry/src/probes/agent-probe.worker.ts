import type { PlatformConfigService } from '@app/config';
import { InjectMetric, MetricName } from '@app/metrics';
import { queryRows } from '@app/persistence';
import { JobName, JobProducer, QueueName, QueueWorker, type JobHandlers } from '@app/queues';
import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Queue } from 'bullmq';
import type { Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { DiscoveryCache } from '../discovery/discovery-cache.js';
import { CardRejected, fetchAgentCard } from '../registrations/agent-card.reader.js';
import { indexCard, searchVectorSql } from '../registrations/card-index.js';
import { RegistrationsService } from '../registrations/registrations.service.js';

const SWEEP_SCHEDULER = 'registry-sweep';

/**
 * Keeps the registry true: every probe interval a sweep marks instances
 * whose heartbeat is older than the TTL unhealthy, removes those silent for
 * longer, and queues a probe of every instance; a probe fetches the card
 * (conditionally, by ETag), re-indexes a changed card and records health and
 * latency. An instance that fails its probe leaves discovery until it answers.
 */
@Processor(QueueName.AgentProbes, { concurrency: 16 })
export class AgentProbeWorker extends QueueWorker<QueueName.AgentProbes> {
  protected readonly queue = QueueName.AgentProbes;
  protected readonly handlers: JobHandlers<QueueName.AgentProbes> = {
    [JobName.ExpireHeartbeats]: () => this.sweep(),
    [JobName.ProbeAgentInstance]: ({ registrationId }) => this.probe(registrationId),
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly cache: DiscoveryCache,
    private readonly registrations: RegistrationsService,
    private readonly producer: JobProducer,
    @InjectQueue(QueueName.AgentProbes) private readonly probes: Queue,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
    @InjectMetric(MetricName.A2aAgentHealth) private readonly health: Gauge<'agent_id'>,
  ) {
    super();
  }

  override async onApplicationBootstrap(): Promise<void> {
    await super.onApplicationBootstrap();
    this.repeat(
      this.probes,
      SWEEP_SCHEDULER,
      this.config.get('registry', { infer: true }).probeIntervalSeconds * 1000,
      JobName.ExpireHeartbeats,
      () => ({ scheduledAt: new Date().toISOString() }),
    );
  }

  private async sweep(): Promise<{ expired: number; removed: number; probed: number }> {
    const registry = this.config.get('registry', { infer: true });
    const expired = await queryRows<{ id: string }>(
      this.dataSource,
      `UPDATE agent_registrations SET status = 'unhealthy', updated_at = now()
       WHERE status = 'healthy' AND last_heartbeat_at < now() - make_interval(secs => $1) RETURNING id`,
      [registry.heartbeatTtlSeconds],
    );
    const removed = await queryRows<{ id: string }>(
      this.dataSource,
      `DELETE FROM agent_registrations WHERE last_heartbeat_at < now() - make_interval(secs => $1) RETURNING id`,
      [registry.removeAfterSeconds],
    );
    if (expired.length > 0)
      this.logger.log(`${expired.length} instance(s) missed their heartbeat and are unhealthy`);
    for (const { id } of expired) this.health.set({ agent_id: id }, 0);
    for (const { id } of removed) this.health.remove({ agent_id: id });
    this.registrations.recordEvent('expiry', expired.length);
    this.registrations.recordEvent('removal', removed.length);
    if (expired.length + removed.length > 0) await this.cache.invalidate();

    const instances = await this.dataSource.query<Array<{ id: string; tenant_id: string }>>(
      'SELECT id, tenant_id FROM agent_registrations',
    );
    await this.producer.enqueueBulk(
      JobName.ProbeAgentInstance,
      instances.map((instance) => ({
        payload: { tenantId: instance.tenant_id, registrationId: instance.id },
        // One probe of an instance at a time: a sweep does not pile probes on a slow agent.
        options: { jobId: `probe-${instance.id}` },
      })),
    );
    return { expired: expired.length, removed: removed.length, probed: instances.length };
  }

  private async probe(id: string): Promise<{ ok: boolean }> {
    const rows = await this.dataSource.query<
      Array<{ card_url: string; card_etag: string | null; status: string; fresh: boolean }>
    >(
      `SELECT card_url, card_etag, status, last_heartbeat_at >= now() - make_interval(secs => $2) AS fresh
       FROM agent_registrations WHERE id = $1`,
      [id, this.config.get('registry', { infer: true }).heartbeatTtlSeconds],
    );
    const row = rows[0];
    if (row === undefined) return { ok: false };
    const started = performance.now();
    let failure: string | null = null;
    let changedCard: Record<string, unknown> | undefined;
    let etag = row.card_etag;
    try {
      const fetched = await fetchAgentCard(row.card_url, this.registrations.policy, row.card_etag);
      if (fetched.changed) {
        changedCard = fetched.card;
        etag = fetched.etag;
      }
    } catch (error) {
      failure =
        error instanceof CardRejected ? error.message : `Probe failed: ${(error as Error).message}`;
    }
    const latencyMs = Math.round(performance.now() - started);
    const status = failure === null && row.fresh ? 'healthy' : 'unhealthy';
    if (
      changedCard !== undefined &&
      JSON.stringify(changedCard) !== JSON.stringify(await this.currentCard(id))
    ) {
      const index = indexCard(changedCard);
      await this.dataSource.query(
        `UPDATE agent_registrations SET card = $2, card_etag = $3, agent_name = $4, url = $5, skills = $6, tags = $7,
           input_modes = $8, output_modes = $9, search = ${searchVectorSql('$12', '$10', '$11')}, updated_at = now()
         WHERE id = $1`,
        [
          id,
          changedCard,
          etag,
          index.name,
          index.url,
          index.skills,
          index.tags,
          index.inputModes,
          index.outputModes,
          index.description,
          index.skillsText,
          index.name,
        ],
      );
      this.registrations.recordEvent('card_change');
      await this.cache.invalidate();
    }
    await this.dataSource.query(
      `UPDATE agent_registrations SET last_probe_at = now(), last_probe_ok = $2, last_probe_error = $3, latency_ms = $4,
         status = $5, card_etag = COALESCE($6, card_etag) WHERE id = $1`,
      [
        id,
        failure === null,
        failure?.slice(0, 500) ?? null,
        failure === null ? latencyMs : null,
        status,
        etag,
      ],
    );
    this.health.set({ agent_id: id }, status === 'healthy' ? 1 : 0);
    if (status !== row.status) {
      this.logger.log(
        `Instance ${id} (${row.card_url}) is ${status}: ${failure ?? (row.fresh ? 'its card answers again' : 'no heartbeat within the TTL')}`,
      );
      this.registrations.recordEvent(status === 'healthy' ? 'recovery' : 'probe_failure');
      await this.cache.invalidate();
    }
    return { ok: failure === null };
  }

  private async currentCard(id: string): Promise<unknown> {
    const rows = await this.dataSource.query<Array<{ card: unknown }>>(
      'SELECT card FROM agent_registrations WHERE id = $1',
      [id],
    );
    return rows[0]?.card;
  }
}
