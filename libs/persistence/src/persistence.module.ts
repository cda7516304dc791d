import type { PlatformConfigService } from '@app/config';
import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { TerminusModule } from '@nestjs/terminus';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options.js';
import { DatabaseHealthIndicator } from './database.health.js';
import { DatabaseLifecycle } from './database-lifecycle.service.js';
import { usePreparedStatements } from './prepared-statement.js';

/** One TypeORM DataSource per app, connected in the background by {@link DatabaseLifecycle}. */
@Global()
@Module({
  imports: [TerminusModule],
  providers: [
    {
      provide: DataSource,
      inject: [ConfigService],
      useFactory: (config: PlatformConfigService) => {
        const app = config.get('app', { infer: true });
        const database = config.get('database', { infer: true });
        const dataSource = new DataSource(
          buildDataSourceOptions(database, { applicationName: `a2a-${app.name}` }),
        );
        usePreparedStatements(dataSource, database.preparedStatements);
        return dataSource;
      },
    },
    DatabaseLifecycle,
    DatabaseHealthIndicator,
  ],
  exports: [DataSource, DatabaseLifecycle, DatabaseHealthIndicator],
})
export class PersistenceModule {}
