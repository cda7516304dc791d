import 'reflect-metadata';
import { bootstrap } from '@app/platform';
import { RegistryModule } from './registry.module.js';

await bootstrap('registry', (config) => RegistryModule.register(config));
