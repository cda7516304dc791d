import { TaskPushNotificationConfig } from '@a2a-js/sdk';
import { RequestMalformedError } from '@a2a-js/sdk/errors';
import type {
  PushNotificationStore,
  ServerCallContext,
  StoredPushNotificationConfig,
} from '@a2a-js/sdk/server';
import type { PushConfig } from '@app/config';
import {
  checkOutboundUrl,
  isPrivateAddress,
  OutboundRequestRefused,
  privateTargetAllowed,
} from '@app/security';
import { randomUUID } from 'node:crypto';
import { lookup } from 'node:dns/promises';
import { isIP } from 'node:net';
import { PreparedStatement } from '@app/persistence';
import type { DataSource } from 'typeorm';
import { scopeOf } from '../transport/call-context.js';
import { A2A_LEGACY_PROTOCOL_VERSION } from '../agent/agent-card.builder.js';

/** The push configs of the tasks of one batch of events (a lookup per turn of the event loop). */
const PUSH_CONFIGS_OF_TASKS = new PreparedStatement<{
  task_id: string;
  tenant_id: string;
  owner: string;
  config: Record<string, unknown>;
  wire_version: string;
}>(
  'a2a.push-configs-of-tasks',
  `SELECT task_id, tenant_id, owner, config, wire_version FROM a2a_push_configs
    WHERE agent = $1 AND task_id = ANY($2::varchar[]) ORDER BY created_at, id`,
);

const MAX_CONFIGS_PER_TASK = 10;

interface Lookup {
  readonly taskId: string;
  readonly tenantId: string;
  readonly owner: string;
  resolve(configs: StoredPushNotificationConfig[]): void;
  reject(error: unknown): void;
}

/** Push-notification configs of one hosted agent in PostgreSQL, scoped like the tasks they belong to. */
export class TypeOrmPushConfigStore implements PushNotificationStore {
  private readonly lookups: Lookup[] = [];

  constructor(
    private readonly agent: string,
    private readonly dataSource: DataSource,
    private readonly push: PushConfig,
  ) {}

  async save(
    taskId: string,
    context: ServerCallContext,
    config: TaskPushNotificationConfig,
  ): Promise<void> {
    const { tenantId, owner } = scopeOf(context);
    await this.checkWebhook(config.url);
    if (!config.id) config.id = randomUUID();
    config.taskId = taskId;
    const wireVersion = context.requestedVersion || A2A_LEGACY_PROTOCOL_VERSION;
    const inserted = await this.dataSource.query<unknown[]>(
      `INSERT INTO a2a_push_configs (task_id, id, tenant_id, owner, agent, config, wire_version)
       SELECT $1::varchar, $2::varchar, $3, $4, $5, $6::jsonb, $7
       WHERE (SELECT count(*) FROM a2a_push_configs WHERE task_id = $1::varchar AND id <> $2::varchar) < $8
       ON CONFLICT (task_id, id) DO UPDATE SET config = EXCLUDED.config, wire_version = EXCLUDED.wire_version
       WHERE a2a_push_configs.tenant_id = EXCLUDED.tenant_id AND a2a_push_configs.owner = EXCLUDED.owner
       RETURNING id`,
      [
        taskId,
        config.id,
        tenantId,
        owner,
        this.agent,
        TaskPushNotificationConfig.toJSON(config),
        wireVersion,
        MAX_CONFIGS_PER_TASK,
      ],
    );
    if (inserted.length === 0) {
      throw new RequestMalformedError(
        `a task holds at most ${MAX_CONFIGS_PER_TASK} push notification configs`,
      );
    }
  }

  /**
   * Refuses a webhook at a loopback, private, link-local or metadata address
   * now; deliveries check again (redirects, and names whose address changes).
   */
  private async checkWebhook(raw: string): Promise<void> {
    const options = {
      allowPrivate: this.push.allowPrivateUrls,
      allowHosts: this.push.allowedHosts,
      timeoutMs: 0,
      maxBytes: 0,
    };
    try {
      const url = checkOutboundUrl(raw, options);
      const host = url.hostname.replace(/^\[|\]$/g, '');
      const allowed = privateTargetAllowed(url, options);
      if (allowed || isIP(host) !== 0) return;
      // A name that does not resolve now may later: every delivery checks it again.
      const addresses = await lookup(host, { all: true }).catch(() => []);
      const refused = addresses.find((entry) => isPrivateAddress(entry.address));
      if (refused) {
        throw new OutboundRequestRefused(
          `${host} resolves to a private address (${refused.address})`,
        );
      }
    } catch (error) {
      if (error instanceof OutboundRequestRefused) {
        throw new RequestMalformedError(`push notification url refused: ${error.message}`);
      }
      throw error;
    }
  }

  async load(taskId: string, context: ServerCallContext): Promise<TaskPushNotificationConfig[]> {
    return (await this.loadWithMetadata(taskId, context)).map((stored) => stored.config);
  }

  async loadWithMetadata(
    taskId: string,
    context: ServerCallContext,
  ): Promise<StoredPushNotificationConfig[]> {
    const { tenantId, owner } = scopeOf(context);
    const rows = await this.dataSource.query<
      Array<{ config: Record<string, unknown>; wire_version: string }>
    >(
      `SELECT config, wire_version FROM a2a_push_configs
       WHERE task_id = $1 AND tenant_id = $2 AND owner = $3 AND agent = $4 ORDER BY created_at, id`,
      [taskId, tenantId, owner, this.agent],
    );
    return rows.map((row) => ({
      config: TaskPushNotificationConfig.fromJSON(row.config),
      wireVersion: row.wire_version,
    }));
  }

  /**
   * The configs of a task, like {@link loadWithMetadata}, with the lookups of
   * all tasks asked for within one turn of the event loop made in one query:
   * the push sender asks for every event of every task.
   */
  loadForEvent(
    taskId: string,
    context: ServerCallContext,
  ): Promise<StoredPushNotificationConfig[]> {
    const { tenantId, owner } = scopeOf(context);
    return new Promise((resolve, reject) => {
      this.lookups.push({ taskId, tenantId, owner, resolve, reject });
      if (this.lookups.length === 1) setImmediate(() => void this.lookUp());
    });
  }

  private async lookUp(): Promise<void> {
    const batch = this.lookups.splice(0);
    try {
      const rows = await PUSH_CONFIGS_OF_TASKS.rows(this.dataSource, [
        this.agent,
        [...new Set(batch.map((lookup) => lookup.taskId))],
      ]);
      for (const lookup of batch) {
        lookup.resolve(
          rows
            .filter(
              (row) =>
                row.task_id === lookup.taskId &&
                row.tenant_id === lookup.tenantId &&
                row.owner === lookup.owner,
            )
            .map((row) => ({
              config: TaskPushNotificationConfig.fromJSON(row.config),
              wireVersion: row.wire_version,
            })),
        );
      }
    } catch (error) {
      for (const lookup of batch) lookup.reject(error);
    }
  }

  async delete(taskId: string, context: ServerCallContext, configId?: string): Promise<void> {
    const { tenantId, owner } = scopeOf(context);
    await this.dataSource.query(
      `DELETE FROM a2a_push_configs WHERE task_id = $1 AND id = $2 AND tenant_id = $3 AND owner = $4 AND agent = $5`,
      [taskId, configId ?? taskId, tenantId, owner, this.agent],
    );
  }
}
