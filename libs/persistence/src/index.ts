export * from './data-source-options.js';
export * from './database-lifecycle.service.js';
export * from './database.health.js';
export * from './ensure-database.js';
export * from './entities/index.js';
export * from './migration-runner.js';
export * from './query-rows.js';
export * from './persistence.module.js';
