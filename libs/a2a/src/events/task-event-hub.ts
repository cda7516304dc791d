import { REDIS_CLIENT } from '@app/redis';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Redis } from 'ioredis';
import { setTimeout as sleep } from 'node:timers/promises';

type Listener = (message: string) => void;

const SUBSCRIBE_TIMEOUT_MS = 5_000;

/**
 * This process's one Redis subscriber connection, shared by every stream
 * that follows a task and by the control channel: channels are subscribed
 * while someone listens and unsubscribed after the last one leaves.
 */
@Injectable()
export class TaskEventHub implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskEventHub.name);
  private readonly listeners = new Map<string, Set<Listener>>();
  private readonly confirmations = new Map<string, Promise<void>>();
  private subscriber?: Redis;

  constructor(@Inject(REDIS_CLIENT) private readonly redis: Redis) {}

  /**
   * Listens on `channel`; resolves once Redis has confirmed the subscription,
   * so that anything published afterwards reaches the listener. Returns the
   * function that stops listening.
   */
  async listen(channel: string, listener: Listener): Promise<() => void> {
    const subscriber = this.connection();
    let set = this.listeners.get(channel);
    const first = set === undefined;
    if (set === undefined) {
      set = new Set();
      this.listeners.set(channel, set);
    }
    set.add(listener);
    if (first) {
      this.confirmations.set(
        channel,
        Promise.race([
          subscriber.subscribe(channel).then(() => undefined),
          sleep(SUBSCRIBE_TIMEOUT_MS, undefined, { ref: false }).then(() => {
            throw new Error(
              `Redis did not confirm the subscription within ${SUBSCRIBE_TIMEOUT_MS} ms`,
            );
          }),
        ]),
      );
    }
    try {
      await this.confirmations.get(channel);
    } catch (error) {
      set.delete(listener);
      if (set.size === 0) {
        this.listeners.delete(channel);
        this.confirmations.delete(channel);
      }
      throw error;
    }
    return () => {
      const current = this.listeners.get(channel);
      if (current === undefined || !current.delete(listener) || current.size > 0) return;
      this.listeners.delete(channel);
      this.confirmations.delete(channel);
      subscriber.unsubscribe(channel).catch((error: unknown) => {
        this.logger.warn(`Unsubscribing ${channel} failed: ${String(error)}`);
      });
    };
  }

  /** Whether anyone in this process listens on `channel`. */
  isListening(channel: string): boolean {
    return this.listeners.has(channel);
  }

  async onApplicationShutdown(): Promise<void> {
    this.listeners.clear();
    await this.subscriber?.quit().catch(() => this.subscriber?.disconnect());
  }

  private connection(): Redis {
    if (this.subscriber === undefined) {
      // A subscriber connection may queue while Redis is away: it resubscribes on reconnect.
      const subscriber = this.redis.duplicate({
        enableOfflineQueue: true,
        enableAutoPipelining: false,
        maxRetriesPerRequest: null,
      });
      subscriber.on('message', (channel: string, message: string) => {
        for (const listener of this.listeners.get(channel) ?? []) listener(message);
      });
      subscriber.on('error', (error: Error) => {
        this.logger.warn(`Redis subscriber: ${error.message}`);
      });
      this.subscriber = subscriber;
    }
    return this.subscriber;
  }
}
