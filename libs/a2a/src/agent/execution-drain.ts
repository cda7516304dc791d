import type { PlatformConfigService } from '@app/config';
import { Inject, Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { setTimeout as sleep } from 'node:timers/promises';

/** What the rest of the shutdown (closing the server, flushing, disconnecting) is left. */
const RESERVED_FOR_CLOSING_MS = 5_000;

/**
 * The executors running in this process, for a graceful shutdown: on
 * SIGTERM no new task starts here (sends are refused, the client retries on
 * another instance), running executors get until the drain budget to finish,
 * and any still running then are left as they are: their task and events so
 * far are saved, so the task can be followed, canceled or continued with a
 * message from any other instance.
 */
@Injectable()
export class ExecutionDrain implements BeforeApplicationShutdown {
  private readonly logger = new Logger(ExecutionDrain.name);
  private readonly running = new Set<Promise<unknown>>();
  private accepting = true;

  constructor(@Inject(ConfigService) private readonly config: PlatformConfigService) {}

  get isAccepting(): boolean {
    return this.accepting;
  }

  get size(): number {
    return this.running.size;
  }

  track<T>(execution: Promise<T>): Promise<T> {
    this.running.add(execution);
    const forget = () => this.running.delete(execution);
    execution.then(forget, forget);
    return execution;
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.accepting = false;
    if (this.running.size === 0) return;
    const app = this.config.get('app', { infer: true });
    const budget = Math.max(
      1_000,
      app.shutdownTimeoutMs - app.shutdownDelayMs - RESERVED_FOR_CLOSING_MS,
    );
    this.logger.log(`Waiting up to ${budget} ms for ${this.running.size} running task(s)`);
    await Promise.race([
      Promise.allSettled([...this.running]),
      sleep(budget, undefined, { ref: false }),
    ]);
    if (this.running.size > 0) {
      this.logger.warn(
        `${this.running.size} task(s) still running are left as saved; a message on such a task continues it elsewhere`,
      );
    } else {
      this.logger.log('All running tasks finished');
    }
  }
}
