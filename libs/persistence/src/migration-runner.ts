import type { DataSource } from 'typeorm';

/** Any constant works, as long as every process that migrates uses the same one. */
const MIGRATION_LOCK_KEY = 4_212_202_611;

/**
 * Runs pending migrations under a PostgreSQL advisory lock, so that replicas
 * starting together apply each migration once. Returns the names applied.
 */
export async function runMigrationsLocked(dataSource: DataSource): Promise<string[]> {
  const runner = dataSource.createQueryRunner();
  try {
    await runner.connect();
    await runner.query('SELECT pg_advisory_lock($1)', [MIGRATION_LOCK_KEY]);
    try {
      const applied = await dataSource.runMigrations({ transaction: 'each' });
      return applied.map((migration) => migration.name);
    } finally {
      await runner.query('SELECT pg_advisory_unlock($1)', [MIGRATION_LOCK_KEY]);
    }
  } finally {
    await runner.release();
  }
}
