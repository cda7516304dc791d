/** The app's command connection (throttling, caches, health). Queues open their own. */
export const REDIS_CLIENT = Symbol('REDIS_CLIENT');
