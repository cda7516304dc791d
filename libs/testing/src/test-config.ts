import { loadPlatformConfig, type AppName, type PlatformConfig } from '@app/config';

/**
 * The configuration a test app gets: the run's database and Redis prefix (set
 * by the global setup), a random port, quiet logs, plus the test's overrides.
 */
export function testConfig(app: AppName, overrides: Record<string, string> = {}): PlatformConfig {
  return loadPlatformConfig(app, {
    ...process.env,
    PORT: '0',
    HOST: '127.0.0.1',
    LOG_LEVEL: process.env.TEST_LOG_LEVEL ?? 'silent',
    ...overrides,
  });
}
