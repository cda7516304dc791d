import { describe, expect, it } from '@jest/globals';
import { EnvironmentError } from './environment.js';
import { DEVELOPMENT_API_KEY, loadPlatformConfig } from './platform-config.js';

describe('loadPlatformConfig', () => {
  it('gives every app working local defaults', () => {
    const config = loadPlatformConfig('orchestrator', {});
    expect(config.app).toMatchObject({
      name: 'orchestrator',
      port: 8001,
      host: '0.0.0.0',
    });
    expect(config.database).toMatchObject({
      host: '127.0.0.1',
      port: 5432,
      name: 'a2a',
      migrationsRun: false,
    });
    expect(config.redis).toMatchObject({ host: '127.0.0.1', port: 6379, keyPrefix: 'a2a' });
    expect(config.security).toEqual({
      bootstrapApiKey: DEVELOPMENT_API_KEY,
      bootstrapApiKeyIsDevelopmentDefault: true,
      bootstrapTenant: 'default',
    });
    expect(config.throttle).toEqual({ ttlMs: 60_000, defaultLimit: 1000, messageLimit: 100 });
    expect(loadPlatformConfig('agent', {}).app.port).toBe(8000);
    expect(loadPlatformConfig('registry', {}).app.port).toBe(8002);
  });

  it('turns strings into typed values', () => {
    const config = loadPlatformConfig('agent', {
      PORT: '9100',
      DATABASE_SSL: 'true',
      DATABASE_MIGRATIONS_RUN: '1',
      THROTTLE_MESSAGE_LIMIT: '5',
      THROTTLE_TTL_SECONDS: '10',
    });
    expect(config.app.port).toBe(9100);
    expect(config.database.ssl).toBe(true);
    expect(config.database.migrationsRun).toBe(true);
    expect(config.throttle).toMatchObject({ messageLimit: 5, ttlMs: 10_000 });
  });

  it('names every bad variable at once', () => {
    const load = () =>
      loadPlatformConfig('agent', { PORT: 'eighty', DATABASE_SSL: 'maybe', LOG_LEVEL: 'loud' });
    expect(load).toThrow(EnvironmentError);
    try {
      load();
    } catch (error) {
      const problems = (error as EnvironmentError).problems.join('\n');
      expect(problems).toContain('PORT');
      expect(problems).toContain('"eighty"');
      expect(problems).toContain('DATABASE_SSL');
      expect(problems).toContain('LOG_LEVEL');
      expect((error as Error).message).toMatch(/^Invalid environment variables:/);
    }
  });

  it('refuses to start in production without a bootstrap key', () => {
    expect(() => loadPlatformConfig('registry', { NODE_ENV: 'production' })).toThrow(
      /BOOTSTRAP_API_KEY/,
    );
    const config = loadPlatformConfig('registry', {
      NODE_ENV: 'production',
      BOOTSTRAP_API_KEY: 'k'.repeat(32),
    });
    expect(config.app.production).toBe(true);
    expect(config.security.bootstrapApiKeyIsDevelopmentDefault).toBe(false);
  });

  it('rejects an unsafe database name and a short bootstrap key', () => {
    expect(() => loadPlatformConfig('agent', { DATABASE_NAME: 'a2a"; DROP' })).toThrow(
      /DATABASE_NAME/,
    );
    expect(() => loadPlatformConfig('agent', { BOOTSTRAP_API_KEY: 'short' })).toThrow(
      /BOOTSTRAP_API_KEY/,
    );
  });
});
