import { loadPlatformConfig } from '@app/config';
import { buildDataSourceOptions } from '@app/persistence';
import { DataSource } from 'typeorm';

/** A connection to the run's database, for tests that arrange or inspect rows directly. */
export async function openTestDataSource(databaseName?: string): Promise<DataSource> {
  const { database } = loadPlatformConfig('registry', {
    ...process.env,
    ...(databaseName ? { DATABASE_NAME: databaseName } : {}),
  });
  const dataSource = new DataSource({ ...buildDataSourceOptions(database), extra: { max: 4 } });
  return dataSource.initialize();
}
