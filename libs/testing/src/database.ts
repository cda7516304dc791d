import { loadPlatformConfig } from '@app/config';
import { ApiKeyRole, buildDataSourceOptions } from '@app/persistence';
import { createApiKey } from '@app/security';
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

/** A member API key of `tenantId` (the tenant is created with it when new). */
export async function memberKey(dataSource: DataSource, tenantId: string): Promise<string> {
  return (await createApiKey(dataSource, { tenantId, name: 'e2e', role: ApiKeyRole.Member })).key;
}
