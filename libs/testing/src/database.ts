import { loadPlatformConfig } from '@app/config';
import { ApiKeyRole, buildDataSourceOptions } from '@app/persistence';
import { createApiKey } from '@app/security';
import { DataSource } from 'typeorm';
import { waitFor } from './wait-for.js';

/** A connection to the run's database, for tests that arrange or inspect rows directly. */
export async function openTestDataSource(databaseName?: string): Promise<DataSource> {
  const { database } = loadPlatformConfig('registry', {
    ...process.env,
    ...(databaseName ? { DATABASE_NAME: databaseName } : {}),
  });
  const dataSource = new DataSource({ ...buildDataSourceOptions(database), extra: { max: 4 } });
  return dataSource.initialize();
}

/** A member API key of `tenantId` (the tenant is created with it when new). */
export async function memberKey(dataSource: DataSource, tenantId: string): Promise<string> {
  return (await createApiKey(dataSource, { tenantId, name: 'e2e', role: ApiKeyRole.Member })).key;
}

/** Waits until a statement whose text contains `statement` is waiting for a lock in `dataSource`'s database. */
export async function waitForLockWait(dataSource: DataSource, statement: string): Promise<void> {
  await waitFor(
    async () =>
      (
        await dataSource.query<unknown[]>(
          `SELECT 1 FROM pg_stat_activity
           WHERE datname = current_database() AND wait_event_type = 'Lock' AND position($1 in query) > 0`,
          [statement],
        )
      ).length > 0,
    { what: `a statement "${statement}" to wait for a lock` },
  );
}

/**
 * The commit mode (`synchronous_commit`) these statements leave their
 * transaction in: they run in one transaction, rolled back at the end.
 */
export async function commitModeAfter(
  dataSource: DataSource,
  statements: ReadonlyArray<readonly [text: string, values?: unknown[]]>,
): Promise<string> {
  const runner = dataSource.createQueryRunner();
  await runner.startTransaction();
  try {
    for (const [text, values] of statements) await runner.query(text, values);
    const [row] =
      await runner.manager.query<Array<{ synchronous_commit: string }>>('SHOW synchronous_commit');
    return row.synchronous_commit;
  } finally {
    await runner.rollbackTransaction();
    await runner.release();
  }
}
