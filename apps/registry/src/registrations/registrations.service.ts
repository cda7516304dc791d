import type { PlatformConfigService } from '@app/config';
import { InjectMetric, MetricName } from '@app/metrics';
import { ApiKeyRole, queryRows, RegistrationStatus } from '@app/persistence';
import type { AuthContext } from '@app/security';
import {
  ForbiddenException,
  Inject,
  Injectable,
  NotFoundException,
  UnprocessableEntityException,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Counter, Gauge } from 'prom-client';
import { DataSource } from 'typeorm';
import { DiscoveryCache } from '../discovery/discovery-cache.js';
import {
  CardRejected,
  fetchAgentCard,
  parseAgentCard,
  type CardPolicy,
} from './agent-card.reader.js';
import { indexCard, searchVectorSql } from './card-index.js';
import type { RegisterAgentDto } from './register-agent.dto.js';
import {
  REGISTRATION_COLUMNS,
  toView,
  type RegistrationRow,
  type RegistrationView,
} from './registration.view.js';

export type RegistryEvent =
  | 'registration'
  | 'deregistration'
  | 'expiry'
  | 'removal'
  | 'card_change'
  | 'recovery'
  | 'probe_failure';

/** Registrations: create (by card URL or card), heartbeat, read, delete; every change invalidates discovery. */
@Injectable()
export class RegistrationsService {
  readonly policy: CardPolicy;

  constructor(
    private readonly dataSource: DataSource,
    private readonly cache: DiscoveryCache,
    @Inject(ConfigService) config: PlatformConfigService,
    @InjectMetric(MetricName.RegistryEvents) private readonly events: Counter<'event'>,
    @InjectMetric(MetricName.A2aAgentHealth) private readonly health: Gauge<'agent_id'>,
  ) {
    const registry = config.get('registry', { infer: true });
    this.policy = {
      allowPrivateUrls: registry.allowPrivateUrls,
      maxCardBytes: registry.maxCardBytes,
    };
  }

  async register(
    auth: AuthContext,
    dto: RegisterAgentDto,
  ): Promise<{ registration: RegistrationView; created: boolean }> {
    if (dto.shared && auth.role !== ApiKeyRole.Admin) {
      throw new ForbiddenException('Only an admin key may publish a shared agent');
    }
    let card: Record<string, unknown>;
    let etag: string | null = null;
    try {
      if (dto.card !== undefined) {
        if (JSON.stringify(dto.card).length > this.policy.maxCardBytes) {
          throw new CardRejected(
            `The agent card is larger than ${this.policy.maxCardBytes} bytes`,
            'too-large',
          );
        }
        card = parseAgentCard(dto.card);
      } else {
        const fetched = await fetchAgentCard(dto.cardUrl, this.policy);
        if (!fetched.changed)
          throw new CardRejected('The card URL answered without a card', 'invalid');
        card = fetched.card;
        etag = fetched.etag;
      }
    } catch (error) {
      if (error instanceof CardRejected) throw new UnprocessableEntityException(error.message);
      throw error;
    }
    const index = indexCard(card);
    const rows = await this.dataSource.query<Array<RegistrationRow & { created: boolean }>>(
      `INSERT INTO agent_registrations
         (tenant_id, shared, agent_name, card_url, url, card, card_etag, status, skills, tags, input_modes, output_modes,
          search, last_heartbeat_at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, 'healthy', $8, $9, $10, $11, ${searchVectorSql('$14', '$12', '$13')}, now())
       ON CONFLICT (tenant_id, card_url) DO UPDATE SET
         shared = EXCLUDED.shared, agent_name = EXCLUDED.agent_name, url = EXCLUDED.url, card = EXCLUDED.card,
         card_etag = EXCLUDED.card_etag, status = 'healthy', skills = EXCLUDED.skills, tags = EXCLUDED.tags,
         input_modes = EXCLUDED.input_modes, output_modes = EXCLUDED.output_modes, search = EXCLUDED.search,
         last_heartbeat_at = now(), last_probe_ok = NULL, last_probe_error = NULL, updated_at = now()
       RETURNING ${REGISTRATION_COLUMNS}, (xmax = 0) AS created`,
      [
        auth.tenantId,
        dto.shared ?? false,
        index.name,
        dto.cardUrl,
        index.url,
        card,
        etag,
        index.skills,
        index.tags,
        index.inputModes,
        index.outputModes,
        index.description,
        index.skillsText,
        index.name,
      ],
    );
    const row = rows[0];
    this.events.inc({ event: 'registration' });
    this.health.set({ agent_id: row.id }, 1);
    await this.cache.invalidate();
    return { registration: toView(row), created: row.created };
  }

  async heartbeat(auth: AuthContext, id: string): Promise<RegistrationView> {
    const rows = await queryRows<RegistrationRow & { previous: string }>(
      this.dataSource,
      `WITH old AS (SELECT id, status FROM agent_registrations WHERE id = $1 AND tenant_id = $2)
       UPDATE agent_registrations r SET last_heartbeat_at = now(), updated_at = now(),
         status = CASE WHEN r.last_probe_ok IS FALSE THEN 'unhealthy' ELSE 'healthy' END
       FROM old WHERE r.id = old.id
       RETURNING ${REGISTRATION_COLUMNS.split(', ')
         .map((column) => `r.${column}`)
         .join(', ')}, old.status AS previous`,
      [id, auth.tenantId],
    );
    const row = rows[0];
    if (row === undefined) throw new NotFoundException(`No registration ${id}`);
    if (row.previous !== row.status) {
      if (row.status === (RegistrationStatus.Healthy as string))
        this.events.inc({ event: 'recovery' });
      this.health.set(
        { agent_id: row.id },
        row.status === (RegistrationStatus.Healthy as string) ? 1 : 0,
      );
      await this.cache.invalidate();
    }
    return toView(row);
  }

  async deregister(auth: AuthContext, id: string): Promise<void> {
    const rows = await queryRows<{ id: string }>(
      this.dataSource,
      'DELETE FROM agent_registrations WHERE id = $1 AND tenant_id = $2 RETURNING id',
      [id, auth.tenantId],
    );
    if (rows.length === 0) throw new NotFoundException(`No registration ${id}`);
    this.events.inc({ event: 'deregistration' });
    this.health.remove({ agent_id: id });
    await this.cache.invalidate();
  }

  /** A registration the caller may see: its tenant's, or a shared one. */
  async get(auth: AuthContext, id: string): Promise<RegistrationView> {
    const rows = await this.dataSource.query<RegistrationRow[]>(
      `SELECT ${REGISTRATION_COLUMNS} FROM agent_registrations WHERE id = $1 AND (tenant_id = $2 OR shared)`,
      [id, auth.tenantId],
    );
    if (rows.length === 0) throw new NotFoundException(`No registration ${id}`);
    return toView(rows[0]);
  }

  recordEvent(event: RegistryEvent, count = 1): void {
    if (count > 0) this.events.inc({ event }, count);
  }
}
