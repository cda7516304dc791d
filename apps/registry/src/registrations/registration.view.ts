import type { AgentRegistrationEntity } from '@app/persistence';

/** A registration as the API shows it. */
export interface RegistrationView {
  readonly id: string;
  readonly tenantId: string;
  readonly shared: boolean;
  readonly agentName: string;
  readonly url: string;
  readonly cardUrl: string;
  readonly status: string;
  readonly lastHeartbeatAt: string;
  readonly lastProbeAt: string | null;
  readonly lastProbeOk: boolean | null;
  readonly lastProbeError: string | null;
  readonly latencyMs: number | null;
  readonly cardEtag: string | null;
  readonly card: Record<string, unknown>;
  readonly createdAt: string;
}

/** Row of `agent_registrations` as raw SQL returns it. */
export interface RegistrationRow {
  id: string;
  tenant_id: string;
  shared: boolean;
  agent_name: string;
  url: string;
  card_url: string;
  status: string;
  last_heartbeat_at: Date;
  last_probe_at: Date | null;
  last_probe_ok: boolean | null;
  last_probe_error: string | null;
  latency_ms: number | null;
  card_etag: string | null;
  card: Record<string, unknown>;
  created_at: Date;
}

export const REGISTRATION_COLUMNS =
  'id, tenant_id, shared, agent_name, url, card_url, status, last_heartbeat_at, last_probe_at, last_probe_ok, last_probe_error, latency_ms, card_etag, card, created_at';

export function toView(row: RegistrationRow): RegistrationView {
  return {
    id: row.id,
    tenantId: row.tenant_id,
    shared: row.shared,
    agentName: row.agent_name,
    url: row.url,
    cardUrl: row.card_url,
    status: row.status,
    lastHeartbeatAt: row.last_heartbeat_at.toISOString(),
    lastProbeAt: row.last_probe_at?.toISOString() ?? null,
    lastProbeOk: row.last_probe_ok,
    lastProbeError: row.last_probe_error,
    latencyMs: row.latency_ms,
    cardEtag: row.card_etag,
    card: row.card,
    createdAt: row.created_at.toISOString(),
  };
}

export type { AgentRegistrationEntity };
