export * from './bootstrap.js';
export * from './create-app.js';
export * from './platform.module.js';
export * from './problem-details.filter.js';
export * from './validation.pipe.js';
export * from './nul-characters.js';
export * from './logging.js';
