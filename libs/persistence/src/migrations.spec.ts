import { loadPlatformConfig } from '@app/config';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options.js';
import { ensureDatabase } from './ensure-database.js';
import { runMigrationsLocked } from './migration-runner.js';
import { MIGRATIONS } from './migrations/index.js';

/** The drift check: the schema the migrations build is exactly the one the entities describe. */
describe('migrations (real PostgreSQL)', () => {
  const database = loadPlatformConfig('registry', {
    ...process.env,
    DATABASE_NAME: `${process.env.DATABASE_NAME}_migrations`,
  }).database;
  let dataSource: DataSource;

  beforeAll(async () => {
    await ensureDatabase(database);
    dataSource = await new DataSource(buildDataSourceOptions(database)).initialize();
  });

  afterAll(async () => {
    await dataSource.destroy();
    const admin = await new DataSource({
      ...buildDataSourceOptions({ ...database, name: 'postgres' }),
    }).initialize();
    await admin.query(`DROP DATABASE IF EXISTS "${database.name}" WITH (FORCE)`);
    await admin.destroy();
  });

  it('apply to an empty database, and leave nothing for the entities to add', async () => {
    const applied = await runMigrationsLocked(dataSource);
    expect(applied).toHaveLength(MIGRATIONS.length);
    const drift = await dataSource.driver.createSchemaBuilder().log();
    expect(drift.upQueries.map((query) => query.query)).toEqual([]);
  });

  it('are applied once even when replicas migrate at the same time', async () => {
    const results = await Promise.all([
      runMigrationsLocked(dataSource),
      runMigrationsLocked(dataSource),
    ]);
    expect(results).toEqual([[], []]);
  });

  it('revert down to an empty schema and apply again', async () => {
    for (let i = 0; i < MIGRATIONS.length; i++)
      await dataSource.undoLastMigration({ transaction: 'each' });
    const tables = await dataSource.query<unknown[]>(
      `SELECT table_name FROM information_schema.tables WHERE table_schema = 'public' AND table_name <> 'migrations'`,
    );
    expect(tables).toEqual([]);
    expect(await runMigrationsLocked(dataSource)).toHaveLength(MIGRATIONS.length);
    expect((await dataSource.driver.createSchemaBuilder().log()).upQueries).toEqual([]);
  });
});
