import { TaskPushNotificationConfig } from '@a2a-js/sdk';
import type { PlatformConfigService } from '@app/config';
import { InjectMetric, MetricName } from '@app/metrics';
import { JobName, QueueName, QueueWorker, type JobHandlers, type JobPayloads } from '@app/queues';
import { OutboundRequestFailed, OutboundRequestRefused, outboundRequest } from '@app/security';
import { InjectQueue, Processor } from '@nestjs/bullmq';
import { Inject } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { UnrecoverableError, type Queue } from 'bullmq';
import { createHash } from 'node:crypto';
import type { Counter } from 'prom-client';
import { DataSource } from 'typeorm';
import { PlatformKeys } from '../signing/platform-keys.js';
import { A2aRetention } from '../stores/a2a-retention.js';

/** The webhook's token, when its config has one (A2A). */
export const PUSH_TOKEN_HEADER = 'X-A2A-Notification-Token';
/** The platform's JWT over the notification, always sent (also as the bearer token when the config sets no credentials). */
export const PUSH_JWT_HEADER = 'X-A2A-Notification-JWT';

const MAX_RESPONSE_BYTES = 64 * 1024;
/** Answers that mean "try again later"; any other 4xx will not change on retry. */
const RETRYABLE_CLIENT_ERRORS = new Set([408, 409, 425, 429]);
const RETENTION_SCHEDULER = 'a2a-retention';

type Delivery = JobPayloads[JobName.DeliverPushNotification];

/**
 * Delivers one push notification: reads the config again (a deleted config
 * stops its deliveries, credentials never travel through Redis), signs a JWT
 * (`iat`, `exp`, `jti` = event id, `task_id`, `request_body_sha256`), and
 * POSTs through the SSRF-guarded client (target, every redirect and every
 * resolved address checked). Failures are retried by BullMQ with exponential
 * backoff and jitter; a refused target or a 4xx fails at once. After the last
 * attempt the job stays in the failed set (see the admin endpoint) until the
 * retention sweep, which this queue also carries, removes it.
 */
@Processor(QueueName.PushDeliveries, { concurrency: 32 })
export class PushDeliveryWorker extends QueueWorker<QueueName.PushDeliveries> {
  protected readonly queue = QueueName.PushDeliveries;
  protected readonly handlers: JobHandlers<QueueName.PushDeliveries> = {
    [JobName.DeliverPushNotification]: (delivery) => this.deliver(delivery),
    [JobName.PruneA2aHistory]: () => this.retention.sweep(),
  };

  constructor(
    private readonly dataSource: DataSource,
    private readonly keys: PlatformKeys,
    private readonly retention: A2aRetention,
    @InjectQueue(QueueName.PushDeliveries) private readonly jobs: Queue,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
    @InjectMetric(MetricName.A2aPushDeliveries) private readonly deliveries: Counter<'outcome'>,
  ) {
    super();
  }

  override async onApplicationBootstrap(): Promise<void> {
    await super.onApplicationBootstrap();
    // One sweep per interval across all replicas.
    this.repeat(
      this.jobs,
      RETENTION_SCHEDULER,
      this.config.get('a2a', { infer: true }).retention.intervalSeconds * 1000,
      JobName.PruneA2aHistory,
      () => ({ scheduledAt: new Date().toISOString() }),
    );
  }

  private async deliver(delivery: Delivery): Promise<{ status: number } | { skipped: string }> {
    const config = await this.loadConfig(delivery);
    if (config === undefined) return { skipped: 'the push config was deleted' };
    const push = this.config.get('a2a', { infer: true }).push;
    const jwt = await this.keys.signJwt({
      jti: delivery.eventId,
      task_id: delivery.taskId,
      request_body_sha256: createHash('sha256').update(delivery.body).digest('hex'),
    });
    const headers: Record<string, string> = {
      'content-type': delivery.contentType,
      [PUSH_JWT_HEADER]: jwt,
    };
    if (config.authentication?.scheme && config.authentication.credentials) {
      headers.authorization = `${config.authentication.scheme} ${config.authentication.credentials}`;
    } else {
      headers.authorization = `Bearer ${jwt}`;
    }
    if (config.token) headers[PUSH_TOKEN_HEADER] = config.token;

    let status: number;
    try {
      ({ status } = await outboundRequest(config.url, {
        method: 'POST',
        headers,
        body: delivery.body,
        allowPrivate: push.allowPrivateUrls,
        allowHosts: push.allowedHosts,
        timeoutMs: push.timeoutMs,
        maxBytes: MAX_RESPONSE_BYTES,
        maxRedirects: 3,
      }));
    } catch (error) {
      if (error instanceof OutboundRequestRefused) {
        this.deliveries.inc({ outcome: 'refused' });
        throw new UnrecoverableError(`Webhook refused: ${error.message}`);
      }
      const timedOut = error instanceof OutboundRequestFailed && error.reason === 'timeout';
      this.deliveries.inc({ outcome: timedOut ? 'timeout' : 'failed' });
      throw error;
    }
    if (status >= 200 && status < 300) {
      this.deliveries.inc({ outcome: 'delivered' });
      return { status };
    }
    this.deliveries.inc({ outcome: 'rejected' });
    const message = `Webhook answered HTTP ${status}`;
    if (status >= 400 && status < 500 && !RETRYABLE_CLIENT_ERRORS.has(status)) {
      throw new UnrecoverableError(message);
    }
    throw new Error(message);
  }

  private async loadConfig(delivery: Delivery): Promise<TaskPushNotificationConfig | undefined> {
    const rows = await this.dataSource.query<Array<{ config: Record<string, unknown> }>>(
      `SELECT config FROM a2a_push_configs
       WHERE task_id = $1 AND id = $2 AND tenant_id = $3 AND owner = $4 AND agent = $5`,
      [delivery.taskId, delivery.pushConfigId, delivery.tenantId, delivery.owner, delivery.agent],
    );
    return rows.length > 0 ? TaskPushNotificationConfig.fromJSON(rows[0].config) : undefined;
  }
}
