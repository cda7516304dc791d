import { TaskPushNotificationConfig, type StreamResponse, type Task } from '@a2a-js/sdk';
import { V03PushNotificationSerializer } from '@a2a-js/sdk/compat/v0_3/server';
import {
  V1PushNotificationSerializer,
  type PushNotificationSender,
  type PushNotificationSerializer,
  type ServerCallContext,
  type StoredPushNotificationConfig,
} from '@a2a-js/sdk/server';
import type { PushConfig } from '@app/config';
import { JobName, type JobProducer } from '@app/queues';
import { Logger } from '@nestjs/common';
import { randomUUID } from 'node:crypto';
import { A2A_LEGACY_PROTOCOL_VERSION } from '../agent/agent-card.builder.js';
import type { TaskEventLog } from '../events/task-event-log.js';
import type { TypeOrmPushConfigStore } from '../stores/typeorm-push-config.store.js';
import { scopeOf } from '../transport/call-context.js';

/** What a push notification is made of: the event, and the task as of that event. */
export interface Notification {
  readonly event: StreamResponse;
  readonly task?: Task;
}

function taskIdOf(event: StreamResponse): string {
  const payload = event.payload;
  if (payload === undefined) return '';
  switch (payload.$case) {
    case 'task':
      return payload.value.id;
    case 'message':
    case 'statusUpdate':
    case 'artifactUpdate':
      return payload.value.taskId;
  }
}

/**
 * Turns every event of a task that has push configs into one delivery job per
 * config (BullMQ, `push-deliveries`): the job carries the notification as it
 * goes on the wire, in the version the config was created with; the
 * {@link PushDeliveryWorker} signs and sends it, with retries. Jobs of one task
 * are enqueued in event order.
 */
export class QueuedPushSender implements PushNotificationSender {
  private readonly logger = new Logger('PushNotifications');
  private readonly chains = new Map<string, Promise<void>>();
  private readonly serializers: Readonly<Record<string, PushNotificationSerializer>> = {
    '1.0': new V1PushNotificationSerializer(),
    [A2A_LEGACY_PROTOCOL_VERSION]: new V03PushNotificationSerializer(),
  };

  constructor(
    private readonly agent: string,
    private readonly store: TypeOrmPushConfigStore,
    private readonly jobs: JobProducer,
    private readonly push: PushConfig,
    private readonly eventLog?: TaskEventLog,
  ) {}

  send(event: StreamResponse, context: ServerCallContext, task?: Task): Promise<void> {
    return this.sendFor(taskIdOf(event), context, () => ({ event, task }));
  }

  /**
   * Like {@link send}, with the notification built only if the task has
   * push configs (most tasks have none): `build` must return the event and
   * task as they were when it was called for.
   */
  sendFor(
    taskId: string,
    context: ServerCallContext,
    build: () => Notification | Promise<Notification>,
  ): Promise<void> {
    if (taskId === '') return Promise.resolve();
    // The configs are asked for now, with the write of the event; only the jobs wait their turn.
    const configs = this.configsOf(taskId, context);
    configs.catch(() => undefined);
    const previous = this.chains.get(taskId) ?? Promise.resolve();
    const next = previous.then(() => this.enqueue(taskId, configs, build, context));
    this.chains.set(taskId, next);
    void next.finally(() => {
      if (this.chains.get(taskId) === next) this.chains.delete(taskId);
    });
    return next;
  }

  private async enqueue(
    taskId: string,
    found: Promise<StoredPushNotificationConfig[]>,
    build: () => Notification | Promise<Notification>,
    context: ServerCallContext,
  ): Promise<void> {
    try {
      const configs = await found;
      if (configs.length === 0) return;
      const { event, task } = await build();
      const { tenantId, owner } = scopeOf(context);
      await this.jobs.enqueueBulk(
        JobName.DeliverPushNotification,
        configs.map(({ config, wireVersion }) => {
          const serializer = this.serializers[wireVersion] ?? this.serializers['1.0'];
          const { body, contentType } = serializer.serialize(event, task);
          return {
            payload: {
              tenantId,
              agent: this.agent,
              owner,
              taskId,
              pushConfigId: config.id,
              eventId: randomUUID(),
              body,
              contentType,
            },
            options: {
              attempts: this.push.attempts,
              backoff: { type: 'exponential', delay: this.push.backoffMs, jitter: 0.5 },
            },
          };
        }),
      );
    } catch (error) {
      this.logger.error(
        `Push notifications of task ${taskId} not queued: ${(error as Error).message}`,
      );
    }
  }

  /**
   * The task's push configs: as the event log's write of its pending events
   * finds them (no query of its own), or else looked up.
   */
  private async configsOf(
    taskId: string,
    context: ServerCallContext,
  ): Promise<StoredPushNotificationConfig[]> {
    const written = this.eventLog?.pushConfigsOf(taskId);
    if (written === undefined) return this.store.loadForEvent(taskId, context);
    const { tenantId, owner } = scopeOf(context);
    return (await written)
      .filter(
        (row) => row.agent === this.agent && row.tenant_id === tenantId && row.owner === owner,
      )
      .map((row) => ({
        config: TaskPushNotificationConfig.fromJSON(row.config),
        wireVersion: row.wire_version,
      }));
  }
}
