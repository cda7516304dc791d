import { Inject, Injectable } from '@nestjs/common';
import { HealthIndicatorService } from '@nestjs/terminus';
import type { Redis } from 'ioredis';
import { REDIS_CLIENT } from './redis.tokens.js';

/** `redis`: up when Redis answers PING within the timeout. */
@Injectable()
export class RedisHealthIndicator {
  constructor(
    @Inject(REDIS_CLIENT) private readonly client: Redis,
    private readonly health: HealthIndicatorService,
  ) {}

  check(timeoutMs = 1_000) {
    return this.health
      .check('redis')
      .attempt(async () => {
        if (this.client.status !== 'ready') throw new Error(`connection ${this.client.status}`);
        await this.client.ping();
      })
      .withTimeout(timeoutMs);
  }
}
