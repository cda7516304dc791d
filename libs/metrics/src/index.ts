export { InjectMetric } from '@willsoto/nestjs-prometheus';
export * from './a2a-route.decorator.js';
export * from './http-metrics.recorder.js';
export * from './metric-definitions.js';
export * from './metric-names.js';
export * from './metrics.module.js';
