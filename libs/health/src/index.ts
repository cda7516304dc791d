export * from './health.controller.js';
export * from './health.module.js';
export * from './lifecycle-state.service.js';
export * from './readiness.service.js';
