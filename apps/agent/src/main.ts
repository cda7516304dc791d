import 'reflect-metadata';
import { bootstrap } from '@app/platform';
import { AgentModule } from './agent.module.js';

await bootstrap('agent', (config) => AgentModule.register(config));
