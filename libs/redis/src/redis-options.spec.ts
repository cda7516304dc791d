import { loadPlatformConfig } from '@app/config';
import { describe, expect, it } from '@jest/globals';
import { buildRedisOptions } from './redis-options.js';

const redisConfig = (env: Record<string, string>) => loadPlatformConfig('registry', env).redis;

describe('buildRedisOptions', () => {
  it('takes host, port, credentials, database and TLS from REDIS_URL', () => {
    const options = buildRedisOptions(
      redisConfig({ REDIS_URL: 'rediss://app:s%40cret@cache.example.com:6380/2' }),
    );
    expect(options).toMatchObject({
      host: 'cache.example.com',
      port: 6380,
      username: 'app',
      password: 's@cret',
      db: 2,
      tls: {},
    });
  });

  it('keeps REDIS_PASSWORD when REDIS_URL carries no password', () => {
    const options = buildRedisOptions(
      redisConfig({ REDIS_URL: 'rediss://cache.example.com:6380', REDIS_PASSWORD: 'from-env' }),
    );
    expect(options).toMatchObject({ host: 'cache.example.com', password: 'from-env', tls: {} });
  });

  it('uses the REDIS_* parts without a URL', () => {
    const options = buildRedisOptions(
      redisConfig({ REDIS_HOST: 'redis', REDIS_PORT: '6390', REDIS_PASSWORD: 'pw', REDIS_DB: '3' }),
    );
    expect(options).toMatchObject({ host: 'redis', port: 6390, password: 'pw', db: 3 });
  });
});
