import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';

/**
 * One PostgreSQL database and one Redis key prefix per test run, so that runs
 * never collide with each other or with a local platform. The schema comes
 * from the real migration CLI of the built output (`npm test` builds first).
 */
export default function globalSetup(): void {
  const cli = 'dist/libs/persistence/src/cli/migrate.js';
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run "npm run build" before jest`);
  const runId = `${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;
  process.env.DATABASE_NAME = `a2a_test_${runId}`;
  process.env.REDIS_KEY_PREFIX = `a2a-test-${runId.replace('_', '-')}`;
  process.env.LOG_LEVEL ??= 'warn';
  process.env.NODE_ENV = 'test';
  execFileSync(process.execPath, [cli, 'run'], { stdio: 'inherit', env: process.env });
}
