import type { AgentExecutor } from '@a2a-js/sdk/server';
import type { DynamicModule, Type } from '@nestjs/common';
import type { AgentDirectory } from './agent/agent-directory.js';

export const A2A_MODULE_OPTIONS = Symbol('A2A_MODULE_OPTIONS');

export interface A2aModuleOptions {
  /** Classes decorated with `@A2aAgent()`. */
  readonly agents: ReadonlyArray<Type<AgentExecutor>>;
  /**
   * `per-agent`: each agent under `/agents/{name}` (the agent app).
   * `root`: one agent at the app's root (the orchestrator).
   */
  readonly mount: 'per-agent' | 'root';
  /** Modules whose exported providers the agents inject. */
  readonly imports?: ReadonlyArray<Type | DynamicModule>;
  /** Where to announce the served agents; by default nowhere (no registry). */
  readonly directory?: Type<AgentDirectory>;
  /** Whether this process delivers push notifications (default true; false for HTTP-only replicas). */
  readonly pushWorker?: boolean;
}

/** Path prefix of an agent's endpoints. */
export function agentBasePath(options: A2aModuleOptions, name: string): string {
  return options.mount === 'per-agent' ? `/agents/${name}` : '';
}
