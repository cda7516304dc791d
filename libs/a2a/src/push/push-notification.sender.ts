import type { StreamResponse, Task } from '@a2a-js/sdk';
import { V03PushNotificationSerializer } from '@a2a-js/sdk/compat/v0_3/server';
import {
  V1PushNotificationSerializer,
  type PushNotificationSender,
  type PushNotificationSerializer,
  type PushNotificationStore,
  type ServerCallContext,
  type StoredPushNotificationConfig,
} from '@a2a-js/sdk/server';
import { Logger } from '@nestjs/common';
import type { Counter } from 'prom-client';
import { A2A_LEGACY_PROTOCOL_VERSION } from '../agent/agent-card.builder.js';

export const PUSH_TOKEN_HEADER = 'X-A2A-Notification-Token';

export interface PushSenderOptions {
  readonly timeoutMs: number;
  readonly deliveries: Counter<'outcome'>;
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
 * Sends each task event to the task's webhooks, in order per task, in the
 * wire version each config was created with, with the config's token or
 * credentials; counts every attempt by outcome. One attempt each: durable,
 * retried, signed delivery is a queue of its own.
 */
export class PushNotificationDispatcher implements PushNotificationSender {
  private readonly logger = new Logger('PushNotifications');
  private readonly chains = new Map<string, Promise<void>>();
  private readonly serializers: Readonly<Record<string, PushNotificationSerializer>> = {
    '1.0': new V1PushNotificationSerializer(),
    [A2A_LEGACY_PROTOCOL_VERSION]: new V03PushNotificationSerializer(),
  };

  constructor(
    private readonly store: PushNotificationStore,
    private readonly options: PushSenderOptions,
  ) {}

  send(event: StreamResponse, context: ServerCallContext, task?: Task): Promise<void> {
    const taskId = taskIdOf(event);
    if (taskId === '') return Promise.resolve();
    const previous = this.chains.get(taskId) ?? Promise.resolve();
    const next = previous.then(() => this.deliverAll(taskId, event, context, task));
    this.chains.set(taskId, next);
    void next.finally(() => {
      if (this.chains.get(taskId) === next) this.chains.delete(taskId);
    });
    return next;
  }

  private async deliverAll(
    taskId: string,
    event: StreamResponse,
    context: ServerCallContext,
    task?: Task,
  ): Promise<void> {
    let configs: StoredPushNotificationConfig[];
    try {
      configs = this.store.loadWithMetadata
        ? await this.store.loadWithMetadata(taskId, context)
        : (await this.store.load(taskId, context)).map((config) => ({
            config,
            wireVersion: '1.0',
          }));
    } catch (error) {
      this.logger.warn(`Push configs of task ${taskId} not readable: ${(error as Error).message}`);
      this.options.deliveries.inc({ outcome: 'error' });
      return;
    }
    await Promise.all(configs.map((stored) => this.deliver(taskId, event, stored, task)));
  }

  private async deliver(
    taskId: string,
    event: StreamResponse,
    stored: StoredPushNotificationConfig,
    task?: Task,
  ): Promise<void> {
    const { config, wireVersion } = stored;
    const serializer = this.serializers[wireVersion] ?? this.serializers['1.0'];
    const { body, contentType } = serializer.serialize(event, task);
    const headers: Record<string, string> = { 'Content-Type': contentType };
    if (config.authentication?.scheme && config.authentication.credentials) {
      headers.Authorization = `${config.authentication.scheme} ${config.authentication.credentials}`;
    } else if (config.token) {
      headers[PUSH_TOKEN_HEADER] = config.token;
    }
    try {
      const response = await fetch(config.url, {
        method: 'POST',
        headers,
        body,
        redirect: 'manual',
        signal: AbortSignal.timeout(this.options.timeoutMs),
      });
      await response.body?.cancel();
      const outcome = response.ok ? 'delivered' : 'rejected';
      this.options.deliveries.inc({ outcome });
      if (!response.ok)
        this.logger.warn(`Push for task ${taskId} refused by its webhook: HTTP ${response.status}`);
    } catch (error) {
      const timedOut = (error as Error).name === 'TimeoutError';
      this.options.deliveries.inc({ outcome: timedOut ? 'timeout' : 'failed' });
      this.logger.warn(`Push for task ${taskId} not delivered: ${(error as Error).message}`);
    }
  }
}
