import { InjectMetric, MetricName } from '@app/metrics';
import { DatabaseHealthIndicator } from '@app/persistence';
import { RedisHealthIndicator } from '@app/redis';
import {
  Injectable,
  Optional,
  type OnApplicationBootstrap,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { HealthCheckService, type HealthCheckResult } from '@nestjs/terminus';
import type { Gauge } from 'prom-client';
import { LifecycleState } from './lifecycle-state.service.js';

const REPORT_INTERVAL_MS = 5_000;

/**
 * Decides readiness (PostgreSQL and Redis answer, no shutdown under way) and
 * keeps `a2a_app_ready` equal to the last decision. The gauge is refreshed on
 * a timer as well as by `/ready`, so it stays true where nothing probes
 * `/ready` and alerts can see an instance flapping.
 */
@Injectable()
export class ReadinessService implements OnApplicationBootstrap, OnApplicationShutdown {
  private timer?: NodeJS.Timeout;

  constructor(
    private readonly health: HealthCheckService,
    private readonly database: DatabaseHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly lifecycle: LifecycleState,
    @Optional() @InjectMetric(MetricName.AppReady) private readonly ready?: Gauge,
  ) {}

  onApplicationBootstrap(): void {
    this.ready?.set(0);
    this.timer = setInterval(() => void this.check().catch(() => undefined), REPORT_INTERVAL_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    if (this.timer) clearInterval(this.timer);
    this.ready?.set(0);
  }

  /** Terminus' verdict; throws its 503 exception when not ready. */
  async check(): Promise<HealthCheckResult> {
    if (this.lifecycle.isShuttingDown) {
      this.ready?.set(0);
      throw new ShuttingDown();
    }
    try {
      const result = await this.health.check([
        () => this.database.check(),
        () => this.redis.check(),
      ]);
      this.ready?.set(1);
      return result;
    } catch (error) {
      this.ready?.set(0);
      throw error;
    }
  }
}

/** Raised by {@link ReadinessService.check} once graceful shutdown has begun. */
export class ShuttingDown extends Error {
  constructor() {
    super('shutting down');
  }
}
