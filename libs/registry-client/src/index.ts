export * from './registry-agent.directory.js';
export * from './registry.client.js';
