export * from './database.js';
export * from './spawned-app.js';
export * from './test-app.js';
export * from './test-config.js';
export * from './wait-for.js';
export * from './a2a-client.js';
export * from './isolated-database.js';
