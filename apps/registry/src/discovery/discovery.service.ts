import { InjectMetric, MetricName } from '@app/metrics';
import type { AuthContext } from '@app/security';
import { Injectable, NotFoundException } from '@nestjs/common';
import type { Counter, Histogram } from 'prom-client';
import { DataSource } from 'typeorm';
import { DiscoveryCache } from './discovery-cache.js';
import type { DiscoveryQuery } from './discovery.query.js';

export interface DiscoveredInstance {
  readonly id: string;
  readonly url: string;
  readonly cardUrl: string;
  readonly status: string;
  readonly latencyMs: number | null;
  readonly lastHeartbeatAt: string;
}

export interface SkillSummary {
  readonly id: string;
  readonly name: string;
  readonly tags: readonly string[];
}

/** One agent (a card name in a tenant) with the instances that serve it. */
export interface DiscoveredAgent {
  readonly name: string;
  readonly description: string;
  readonly tenantId: string;
  readonly shared: boolean;
  readonly skills: readonly SkillSummary[];
  /** The whole card, with `view=full`. */
  readonly card?: Record<string, unknown>;
  readonly instances: DiscoveredInstance[];
}

interface WireCardSummary {
  description?: string;
  skills?: Array<{ id?: string; name?: string; tags?: string[] }>;
}

export interface DiscoveryResult {
  readonly agents: DiscoveredAgent[];
  readonly page: number;
  readonly pageSize: number;
  readonly total: number;
}

interface InstanceRow {
  id: string;
  tenant_id: string;
  shared: boolean;
  agent_name: string;
  url: string;
  card_url: string;
  status: string;
  latency_ms: number | null;
  last_heartbeat_at: Date;
  card: Record<string, unknown>;
  total: string;
}

/** Every field of a discovery query, in the order the cache key lists them. */
const KEY_FIELDS = [
  'skill',
  'tag',
  'q',
  'inputMode',
  'outputMode',
  'healthy',
  'page',
  'pageSize',
  'exclude',
  'view',
] as const satisfies ReadonlyArray<keyof DiscoveryQuery>;
// Fails to compile when a field of the query is missing from the key (two questions would share an answer).
const KEY_COVERS_QUERY: Exclude<keyof DiscoveryQuery, (typeof KEY_FIELDS)[number]> extends never
  ? true
  : never = true;
void KEY_COVERS_QUERY;

/**
 * Finds agents a tenant may use (its own and shared ones) by skill, tag, media
 * mode or text, healthy ones only unless asked otherwise, ranked by health then
 * latency (then text relevance). Answers come from the discovery cache.
 */
@Injectable()
export class DiscoveryService {
  constructor(
    private readonly dataSource: DataSource,
    private readonly cache: DiscoveryCache,
    @InjectMetric(MetricName.DiscoveryDuration) private readonly duration: Histogram<'cache'>,
    @InjectMetric(MetricName.DiscoveryCache) private readonly cacheLookups: Counter<'result'>,
  ) {}

  async discover(auth: AuthContext, query: DiscoveryQuery): Promise<DiscoveryResult> {
    return JSON.parse((await this.discoverJson(auth, query)).toString('utf8')) as DiscoveryResult;
  }

  /**
   * The discovery answer as UTF-8 JSON: a cache hit is sent as stored, never
   * parsed and serialised again; one from this replica's memory is returned
   * at once, without a promise.
   */
  discoverJson(auth: AuthContext, query: DiscoveryQuery): Buffer | Promise<Buffer> {
    const started = performance.now();
    const normalised = {
      ...query,
      healthy: query.healthy ?? true,
      page: query.page ?? 1,
      pageSize: query.pageSize ?? 20,
      tag: query.tag?.toLowerCase(),
      view: query.view ?? 'summary',
    };
    const key = JSON.stringify([
      'discover',
      auth.tenantId,
      ...KEY_FIELDS.map((field) => normalised[field] ?? null),
    ]);
    const remembered = this.cache.peek(key);
    if (remembered !== undefined) return this.hit(remembered, started);
    return this.lookup(key, auth.tenantId, normalised, started);
  }

  private async lookup(
    key: string,
    tenantId: string,
    query: Required<Pick<DiscoveryQuery, 'page' | 'pageSize' | 'healthy'>> & DiscoveryQuery,
    started: number,
  ): Promise<Buffer> {
    const cached = await this.cache.lookup(key);
    if ('hit' in cached) return this.hit(cached.hit, started);
    this.cacheLookups.inc({ result: 'miss' });
    const json = Buffer.from(JSON.stringify(await this.query(tenantId, query)), 'utf8');
    await cached.store(json);
    this.duration.observe({ cache: 'miss' }, (performance.now() - started) / 1000);
    return json;
  }

  private hit(answer: Buffer, started: number): Buffer {
    this.cacheLookups.inc({ result: 'hit' });
    this.duration.observe({ cache: 'hit' }, (performance.now() - started) / 1000);
    return answer;
  }

  /** The one healthy instance of a skill a caller should use now: lowest latency, freshest heartbeat. */
  async resolve(
    auth: AuthContext,
    skill: string,
    exclude?: string,
  ): Promise<DiscoveredInstance & { name: string }> {
    const result = await this.discover(auth, {
      skill,
      healthy: true,
      page: 1,
      pageSize: 1,
      exclude,
    });
    const agent = result.agents[0];
    const instance = agent?.instances[0];
    if (agent === undefined || instance === undefined)
      throw new NotFoundException(`No healthy agent has skill "${skill}"`);
    return { ...instance, name: agent.name };
  }

  private async query(
    tenantId: string,
    query: Required<Pick<DiscoveryQuery, 'page' | 'pageSize' | 'healthy'>> & DiscoveryQuery,
  ): Promise<DiscoveryResult> {
    const values: unknown[] = [tenantId];
    const where = ['(tenant_id = $1 OR shared)'];
    const add = (clause: (placeholder: string) => string, value: unknown) => {
      values.push(value);
      where.push(clause(`$${values.length}`));
    };
    if (query.healthy) where.push(`status = 'healthy'`);
    if (query.exclude) add((p) => `id <> ALL(${p}::uuid[])`, query.exclude.split(','));
    if (query.skill) add((p) => `skills @> ARRAY[${p}]::text[]`, query.skill);
    if (query.tag) add((p) => `tags @> ARRAY[${p}]::text[]`, query.tag);
    if (query.inputMode) add((p) => `input_modes @> ARRAY[${p}]::text[]`, query.inputMode);
    if (query.outputMode) add((p) => `output_modes @> ARRAY[${p}]::text[]`, query.outputMode);
    let rank = '';
    if (query.q) {
      add((p) => `search @@ websearch_to_tsquery('english', ${p})`, query.q);
      rank = `ts_rank(search, websearch_to_tsquery('english', $${values.length})) DESC, `;
    }
    values.push(query.pageSize, (query.page - 1) * query.pageSize);
    const rows = await this.dataSource.query<InstanceRow[]>(
      `SELECT id, tenant_id, shared, agent_name, url, card_url, status, latency_ms, last_heartbeat_at, card,
              count(*) OVER () AS total
       FROM agent_registrations WHERE ${where.join(' AND ')}
       ORDER BY (status = 'healthy') DESC, latency_ms ASC NULLS LAST, ${rank}last_heartbeat_at DESC, id
       LIMIT $${values.length - 1} OFFSET $${values.length}`,
      values,
    );
    const agents = new Map<string, DiscoveredAgent>();
    for (const row of rows) {
      const key = `${row.tenant_id}\u0000${row.agent_name}`;
      let agent = agents.get(key);
      if (agent === undefined) {
        const summary = row.card as WireCardSummary;
        agent = {
          name: row.agent_name,
          description: summary.description ?? '',
          tenantId: row.tenant_id,
          shared: row.shared,
          skills: (summary.skills ?? []).map((skill) => ({
            id: skill.id ?? '',
            name: skill.name ?? '',
            tags: skill.tags ?? [],
          })),
          ...(query.view === 'full' ? { card: row.card } : {}),
          instances: [],
        };
        agents.set(key, agent);
      }
      agent.instances.push({
        id: row.id,
        url: row.url,
        cardUrl: row.card_url,
        status: row.status,
        latencyMs: row.latency_ms,
        lastHeartbeatAt: row.last_heartbeat_at.toISOString(),
      });
    }
    return {
      agents: [...agents.values()],
      page: query.page,
      pageSize: query.pageSize,
      total: Number(rows[0]?.total ?? 0),
    };
  }
}
