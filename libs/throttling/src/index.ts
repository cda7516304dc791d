export * from './redis-throttler.storage.js';
export * from './tenant-throttler.guard.js';
export * from './throttle-names.js';
export * from './throttling.module.js';
export * from './too-many-requests.exception.js';
