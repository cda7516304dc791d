import 'reflect-metadata';
import { bootstrap } from '@app/platform';
import { OrchestratorModule } from './orchestrator.module.js';

await bootstrap('orchestrator', (config) => OrchestratorModule.register(config));
