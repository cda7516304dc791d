import { afterAll, beforeAll } from '@jest/globals';
import { execFileSync } from 'node:child_process';

/**
 * A database of the test file's own, migrated by the real CLI, for tests
 * whose apps act on every row they can see: registries sweep and probe every
 * registration, orchestrator reconcilers take over every ready step. Named
 * after the run's database, so the global teardown drops it with the run's.
 * Returns the env override that points apps at it.
 */
export function isolatedDatabase(label: string): { DATABASE_NAME: string } {
  const base = process.env.DATABASE_NAME;
  if (!base) throw new Error('DATABASE_NAME is not set: run under the jest global setup');
  const name = `${base}_${label.replace(/[^a-z0-9]/gi, '_').toLowerCase()}`.slice(0, 63);
  execFileSync(process.execPath, ['dist/libs/persistence/src/cli/migrate.js', 'run'], {
    env: { ...process.env, DATABASE_NAME: name },
    stdio: 'ignore',
  });
  return { DATABASE_NAME: name };
}

/**
 * Points the whole test file (apps it spawns or starts, openTestDataSource)
 * at a database of its own: call it at the top of the file, outside any
 * describe, so that it runs before the file's other hooks.
 */
export function useIsolatedDatabase(label: string): void {
  let previous: string | undefined;
  beforeAll(() => {
    previous = process.env.DATABASE_NAME;
    process.env.DATABASE_NAME = isolatedDatabase(label).DATABASE_NAME;
  });
  afterAll(() => {
    process.env.DATABASE_NAME = previous;
  });
}
