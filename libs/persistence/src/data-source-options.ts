import type { DatabaseConfig } from '@app/config';
import type { DataSourceOptions } from 'typeorm';
import { ENTITIES } from './entities/index.js';
import { MIGRATIONS } from './migrations/index.js';
import { TypeOrmLogger } from './typeorm-logger.js';

/**
 * The one place that turns configuration into TypeORM options; the apps and the
 * migration CLI share it so that they can never disagree about the schema.
 */
export function buildDataSourceOptions(
  database: DatabaseConfig,
  overrides: { applicationName?: string } = {},
): DataSourceOptions {
  return {
    type: 'postgres',
    ...(database.url
      ? { url: database.url }
      : {
          host: database.host,
          port: database.port,
          username: database.user,
          password: database.password,
          database: database.name,
        }),
    // gen_random_uuid() is built into PostgreSQL 13+: no extension to install, no superuser needed.
    uuidExtension: 'pgcrypto',
    installExtensions: false,
    ssl: database.ssl ? { rejectUnauthorized: true } : false,
    applicationName: overrides.applicationName ?? 'a2a-platform',
    entities: ENTITIES,
    migrations: MIGRATIONS,
    migrationsTableName: 'migrations',
    migrationsTransactionMode: 'each',
    synchronize: false,
    migrationsRun: false,
    logger: new TypeOrmLogger(),
    maxQueryExecutionTime: 1_000,
    extra: {
      max: database.poolSize,
      connectionTimeoutMillis: 5_000,
      idleTimeoutMillis: 30_000,
      statement_timeout: 30_000,
    },
  };
}
