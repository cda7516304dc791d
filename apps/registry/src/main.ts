import 'reflect-metadata';
import { bootstrap } from '@app/platform';
import { setupRegistryOpenApi } from './openapi.js';
import { RegistryModule } from './registry.module.js';

await bootstrap(
  'registry',
  (config) => RegistryModule.register(config),
  (app, config) => setupRegistryOpenApi(app, config.app.version),
);
