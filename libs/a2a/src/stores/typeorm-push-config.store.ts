import { TaskPushNotificationConfig } from '@a2a-js/sdk';
import { RequestMalformedError } from '@a2a-js/sdk/errors';
import type {
  PushNotificationStore,
  ServerCallContext,
  StoredPushNotificationConfig,
} from '@a2a-js/sdk/server';
import { randomUUID } from 'node:crypto';
import type { DataSource } from 'typeorm';
import { scopeOf } from '../transport/call-context.js';
import { A2A_LEGACY_PROTOCOL_VERSION } from '../agent/agent-card.builder.js';

const MAX_CONFIGS_PER_TASK = 10;

/** Push-notification configs of one hosted agent in PostgreSQL, scoped like the tasks they belong to. */
export class TypeOrmPushConfigStore implements PushNotificationStore {
  constructor(
    private readonly agent: string,
    private readonly dataSource: DataSource,
  ) {}

  async save(
    taskId: string,
    context: ServerCallContext,
    config: TaskPushNotificationConfig,
  ): Promise<void> {
    const { tenantId, owner } = scopeOf(context);
    let url: URL;
    try {
      url = new URL(config.url);
    } catch {
      throw new RequestMalformedError('push notification url must be an absolute URL');
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') {
      throw new RequestMalformedError('push notification url must use http or https');
    }
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

  async delete(taskId: string, context: ServerCallContext, configId?: string): Promise<void> {
    const { tenantId, owner } = scopeOf(context);
    await this.dataSource.query(
      `DELETE FROM a2a_push_configs WHERE task_id = $1 AND id = $2 AND tenant_id = $3 AND owner = $4 AND agent = $5`,
      [taskId, configId ?? taskId, tenantId, owner, this.agent],
    );
  }
}
