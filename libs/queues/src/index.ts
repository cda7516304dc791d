export * from './job-options.js';
export * from './job-payloads.js';
export * from './job-producer.service.js';
export * from './queue-names.js';
export * from './queue-worker.js';
export * from './queues.module.js';
