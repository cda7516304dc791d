export * from './redis-options.js';
export * from './redis.health.js';
export * from './redis.module.js';
export * from './redis.tokens.js';
