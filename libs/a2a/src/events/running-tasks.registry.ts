import type { PlatformConfigService } from '@app/config';
import { REDIS_CLIENT } from '@app/redis';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { Redis } from 'ioredis';
import { TaskEventHub } from './task-event-hub.js';

/** What one replica asks the replica executing a task to do. */
export interface TaskControlRequest {
  readonly action: 'cancel';
  readonly agent: string;
  readonly taskId: string;
  readonly tenantId: string;
  readonly owner: string;
}

export type TaskControlHandler = (request: TaskControlRequest) => Promise<void>;

const OWNERSHIP_TTL_MS = 60_000;
const REFRESH_INTERVAL_MS = 20_000;

/** Deletes the key only while it still names this instance. */
const RELEASE_SCRIPT = `if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) else return 0 end`;

/** The release script as a command of the client: sent by its SHA (EVALSHA), not as text with every task. */
type RedisWithRelease = Redis & {
  a2aReleaseRunningTask(key: string, instanceId: string): Promise<number>;
};

/**
 * Which replica is executing which task, in Redis (`…:a2a:running:{taskId}`,
 * refreshed while the executor runs, expiring if the replica dies), and a
 * control channel per replica through which another replica asks it to
 * cancel one of its tasks.
 */
@Injectable()
export class RunningTasksRegistry implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(RunningTasksRegistry.name);
  private readonly running = new Set<string>();
  /** The running tasks whose claim has been sent. */
  private readonly claimed = new Set<string>();
  private readonly handlers = new Map<string, TaskControlHandler>();
  private readonly prefix: string;
  readonly instanceId: string;
  private timer?: NodeJS.Timeout;
  private stopListening?: () => void;

  constructor(
    @Inject(REDIS_CLIENT) private readonly redis: Redis,
    private readonly hub: TaskEventHub,
    @Inject(ConfigService) config: PlatformConfigService,
  ) {
    this.prefix = config.get('redis', { infer: true }).keyPrefix;
    this.instanceId = config.get('app', { infer: true }).instanceId;
    if (!('a2aReleaseRunningTask' in redis)) {
      redis.defineCommand('a2aReleaseRunningTask', { numberOfKeys: 1, lua: RELEASE_SCRIPT });
    }
  }

  /** Routes control requests for `agent`'s tasks to `handler`. */
  handle(agent: string, handler: TaskControlHandler): void {
    this.handlers.set(agent, handler);
  }

  onApplicationBootstrap(): void {
    // In the background: the app starts (and reports Redis as not ready) while Redis is away.
    this.hub
      .listen(this.controlChannel(this.instanceId), (message) => void this.dispatch(message))
      .then((stop) => (this.stopListening = stop))
      .catch((error: unknown) => {
        this.logger.warn(`Control channel not subscribed: ${String(error)}`);
      });
    this.timer = setInterval(() => this.refresh(), REFRESH_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.stopListening?.();
  }

  /**
   * The executor of a task has started here. The task is claimed in Redis
   * only when it is first made visible to other replicas ({@link claim},
   * before its first events are written): a task that ends before that,
   * like most short tasks, never needed a claim and costs Redis nothing.
   */
  started(taskId: string): void {
    this.running.add(taskId);
  }

  /**
   * Claims the tasks among `taskIds` that are still running here and not yet
   * claimed. Called before their events are written: the SET is sent before
   * the write, so a replica that finds a task finds its executor.
   */
  claim(taskIds: Iterable<string>): void {
    for (const taskId of taskIds) {
      if (!this.running.has(taskId) || this.claimed.has(taskId)) continue;
      this.claimed.add(taskId);
      this.redis
        .set(this.key(taskId), this.instanceId, 'PX', OWNERSHIP_TTL_MS)
        .catch((error: unknown) =>
          this.logger.warn(`Task ${taskId} not registered: ${String(error)}`),
        );
    }
  }

  ended(taskId: string): void {
    this.running.delete(taskId);
    if (!this.claimed.delete(taskId)) return;
    (this.redis as RedisWithRelease)
      .a2aReleaseRunningTask(this.key(taskId), this.instanceId)
      .catch((error: unknown) => this.logger.warn(`Task ${taskId} not released: ${String(error)}`));
  }

  /** The instance executing the task, if any replica is. */
  async executorOf(taskId: string): Promise<string | undefined> {
    return (await this.redis.get(this.key(taskId))) ?? undefined;
  }

  /** Asks `instanceId` to act on one of its tasks; resolves when the request is sent. */
  async request(instanceId: string, request: TaskControlRequest): Promise<boolean> {
    const receivers = await this.redis.publish(
      this.controlChannel(instanceId),
      JSON.stringify(request),
    );
    return receivers > 0;
  }

  private refresh(): void {
    if (this.claimed.size === 0) return;
    const pipeline = this.redis.pipeline();
    for (const taskId of this.claimed) {
      pipeline.set(this.key(taskId), this.instanceId, 'PX', OWNERSHIP_TTL_MS);
    }
    pipeline.exec().catch((error: unknown) => {
      this.logger.warn(`Running tasks not refreshed: ${String(error)}`);
    });
  }

  private async dispatch(message: string): Promise<void> {
    let request: TaskControlRequest;
    try {
      request = JSON.parse(message) as TaskControlRequest;
    } catch {
      return;
    }
    const handler = this.handlers.get(request.agent);
    if (handler === undefined) return;
    try {
      await handler(request);
    } catch (error) {
      this.logger.warn(`${request.action} of task ${request.taskId} failed: ${String(error)}`);
    }
  }

  private key(taskId: string): string {
    return `${this.prefix}:a2a:running:${taskId}`;
  }

  private controlChannel(instanceId: string): string {
    return `${this.prefix}:a2a:instance:${instanceId}`;
  }
}
