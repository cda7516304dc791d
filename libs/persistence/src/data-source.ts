import { loadPlatformConfig } from '@app/config';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options.js';

/** Entry point for the TypeORM CLI (`npm run migration:generate`); reads the same env as the apps. */
export default new DataSource(
  buildDataSourceOptions(loadPlatformConfig('registry').database, {
    applicationName: 'a2a-migrations',
  }),
);
