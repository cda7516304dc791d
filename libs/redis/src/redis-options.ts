import type { RedisConfig } from '@app/config';
import type { RedisOptions } from 'ioredis';

/**
 * Connection options shared by every Redis client of an app; `REDIS_URL`,
 * when set, wins, except that `REDIS_PASSWORD` still applies to a URL
 * without a password (managed Redis URLs often carry none).
 */
export function buildRedisOptions(redis: RedisConfig, overrides: RedisOptions = {}): RedisOptions {
  const fromUrl = redis.url ? parseRedisUrl(redis.url) : {};
  return {
    host: redis.host,
    port: redis.port,
    password: redis.password,
    db: redis.db,
    ...fromUrl,
    connectTimeout: 5_000,
    // Reconnect for ever, never faster than every 2 s, so an outage heals by itself.
    retryStrategy: (attempt: number) => Math.min(attempt * 200, 2_000),
    ...overrides,
  };
}

function parseRedisUrl(url: string): RedisOptions {
  const parsed = new URL(url);
  const db = parsed.pathname.length > 1 ? Number(parsed.pathname.slice(1)) : undefined;
  return {
    host: parsed.hostname,
    port: parsed.port ? Number(parsed.port) : 6379,
    ...(parsed.username ? { username: decodeURIComponent(parsed.username) } : {}),
    ...(parsed.password ? { password: decodeURIComponent(parsed.password) } : {}),
    ...(db !== undefined && Number.isInteger(db) ? { db } : {}),
    ...(parsed.protocol === 'rediss:' ? { tls: {} } : {}),
  };
}
