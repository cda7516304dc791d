import type { PlatformConfigService } from '@app/config';
import { DatabaseHealthIndicator } from '@app/persistence';
import { RedisHealthIndicator } from '@app/redis';
import { Public } from '@app/security';
import { Controller, Get, Header, Inject, ServiceUnavailableException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { HealthCheck, type HealthIndicatorResult } from '@nestjs/terminus';
import { SkipThrottle } from '@nestjs/throttler';
import { LifecycleState } from './lifecycle-state.service.js';
import { ReadinessService, ShuttingDown } from './readiness.service.js';

type DependencyState = 'up' | 'down';

export interface HealthReport {
  status: 'ok' | 'degraded';
  app: string;
  instanceId: string;
  version: string;
  uptimeSeconds: number;
  shuttingDown: boolean;
  dependencies: Record<string, DependencyState>;
}

/**
 * `/health` is liveness: 200 while the process can answer at all, with the
 * state of each dependency for humans and dashboards. `/ready` is readiness:
 * 503 until PostgreSQL and Redis answer and again once shutdown has begun.
 */
@Public()
@SkipThrottle()
@Controller()
export class HealthController {
  constructor(
    private readonly readinessService: ReadinessService,
    private readonly database: DatabaseHealthIndicator,
    private readonly redis: RedisHealthIndicator,
    private readonly lifecycle: LifecycleState,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
  ) {}

  @Get('health')
  @Header('Cache-Control', 'no-store')
  async liveness(): Promise<HealthReport> {
    const app = this.config.get('app', { infer: true });
    const results = await Promise.all([this.database.check(500), this.redis.check(500)]);
    const dependencies = Object.fromEntries(
      results.flatMap((result: HealthIndicatorResult) =>
        Object.entries(result).map(
          ([name, detail]) => [name, detail.status === 'up' ? 'up' : 'down'] as const,
        ),
      ),
    );
    return {
      status: Object.values(dependencies).every((state) => state === 'up') ? 'ok' : 'degraded',
      app: app.name,
      instanceId: app.instanceId,
      version: app.version,
      uptimeSeconds: this.lifecycle.uptimeSeconds,
      shuttingDown: this.lifecycle.isShuttingDown,
      dependencies,
    };
  }

  @Get('ready')
  @Header('Cache-Control', 'no-store')
  @HealthCheck()
  async readiness() {
    try {
      return await this.readinessService.check();
    } catch (error) {
      if (!(error instanceof ShuttingDown)) throw error;
      throw new ServiceUnavailableException({
        status: 'error',
        error: { lifecycle: { status: 'down', message: 'shutting down' } },
      });
    }
  }
}
