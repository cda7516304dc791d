import type { PlatformConfigService } from '@app/config';
import {
  Inject,
  Injectable,
  Logger,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { setTimeout as sleep } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { runMigrationsLocked } from './migration-runner.js';

type ReadyHook = { readonly name: string; readonly run: () => Promise<void> };

/**
 * Connects to PostgreSQL in the background so that the app serves `/ready`
 * (with 503) while the database is away, then runs pending migrations when
 * configured to, then the hooks other modules registered (bootstrap data).
 * Until all of that has succeeded the database counts as not ready.
 */
@Injectable()
export class DatabaseLifecycle implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(DatabaseLifecycle.name);
  private readonly hooks: ReadyHook[] = [];
  private readonly stopping = new AbortController();
  private connecting?: Promise<void>;
  private ready = false;
  private readonly readyWaiters: Array<() => void> = [];

  constructor(
    private readonly dataSource: DataSource,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
  ) {}

  /** Registers work that needs the schema; call it from `onModuleInit`. */
  onReady(name: string, run: () => Promise<void>): void {
    this.hooks.push({ name, run });
  }

  get isReady(): boolean {
    return this.ready;
  }

  /** Resolves once connected, migrated and bootstrapped. */
  whenReady(): Promise<void> {
    if (this.ready) return Promise.resolve();
    return new Promise((resolve) => this.readyWaiters.push(resolve));
  }

  onApplicationBootstrap(): void {
    this.connecting = this.connectUntilReady();
  }

  async onApplicationShutdown(): Promise<void> {
    this.stopping.abort();
    await this.connecting;
    if (this.dataSource.isInitialized) await this.dataSource.destroy();
  }

  private async connectUntilReady(): Promise<void> {
    const { migrationsRun } = this.config.get('database', { infer: true });
    let delayMs = 250;
    let pending = [...this.hooks];
    while (!this.stopping.signal.aborted) {
      try {
        if (!this.dataSource.isInitialized) await this.dataSource.initialize();
        if (migrationsRun) {
          const applied = await runMigrationsLocked(this.dataSource);
          if (applied.length > 0) this.logger.log(`Applied migrations: ${applied.join(', ')}`);
        }
        while (pending.length > 0) {
          await pending[0].run();
          pending = pending.slice(1);
        }
        this.ready = true;
        this.readyWaiters.splice(0).forEach((resolve) => resolve());
        this.logger.log('Database ready');
        return;
      } catch (error) {
        const step = pending[0]?.name ?? 'connect';
        this.logger.warn(
          `Database not ready (${step}): ${(error as Error).message}; retrying in ${delayMs} ms`,
        );
        try {
          await sleep(delayMs, undefined, { signal: this.stopping.signal });
        } catch {
          return;
        }
        delayMs = Math.min(delayMs * 2, 5_000);
      }
    }
  }
}
