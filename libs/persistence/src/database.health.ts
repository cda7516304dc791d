import { Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { DatabaseLifecycle } from './database-lifecycle.service.js';

/** `database`: up when PostgreSQL answers a query within the timeout and start-up work is done. */
@Injectable()
export class DatabaseHealthIndicator {
  constructor(
    private readonly dataSource: DataSource,
    private readonly lifecycle: DatabaseLifecycle,
    private readonly health: HealthIndicatorService,
  ) {}

  check(timeoutMs = 1_000) {
    return this.health
      .check('database')
      .attempt(async () => {
        if (!this.dataSource.isInitialized) throw new Error('not connected');
        await this.dataSource.query('SELECT 1');
        if (!this.lifecycle.isReady) throw new Error('starting');
      })
      .withTimeout(timeoutMs);
  }
}
