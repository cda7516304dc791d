import { applyDecorators, Injectable, SetMetadata } from '@nestjs/common';

export const A2A_AGENT = 'a2a:agent';

export interface A2aSkill {
  readonly id: string;
  readonly name: string;
  readonly description: string;
  readonly tags: readonly string[];
  readonly examples?: readonly string[];
  readonly inputModes?: readonly string[];
  readonly outputModes?: readonly string[];
}

/** What a team writes about its agent; the platform turns it into the Agent Card. */
export interface A2aAgentOptions {
  /** Lower-case slug: the agent is served under `/agents/{name}`. */
  readonly name: string;
  /** Human-readable name on the card; defaults to `name`. */
  readonly displayName?: string;
  readonly description: string;
  readonly version: string;
  readonly skills: readonly A2aSkill[];
  readonly defaultInputModes?: readonly string[];
  readonly defaultOutputModes?: readonly string[];
  /** Default true. */
  readonly streaming?: boolean;
  /** Default true. */
  readonly pushNotifications?: boolean;
  readonly provider?: { readonly organization: string; readonly url: string };
  readonly documentationUrl?: string;
}

const AGENT_NAME = /^[a-z][a-z0-9-]{0,62}$/;

/**
 * Declares an A2A agent: the class is its `AgentExecutor` (from `@a2a-js/sdk/server`)
 * and a Nest provider, so it can inject services. Listing it in
 * `A2aModule.forRoot({ agents })` is all it takes to serve it.
 *
 * ```ts
 * @A2aAgent({ name: 'echo', description: 'Repeats what it is told', version: '1.0.0', skills: [...] })
 * export class EchoAgent implements AgentExecutor { ... }
 * ```
 */
export function A2aAgent(options: A2aAgentOptions): ClassDecorator {
  if (!AGENT_NAME.test(options.name)) {
    throw new Error(`A2A agent name "${options.name}" must be a lower-case slug`);
  }
  return applyDecorators(Injectable(), SetMetadata(A2A_AGENT, options));
}

export function agentOptionsOf(target: object): A2aAgentOptions | undefined {
  return Reflect.getMetadata(A2A_AGENT, target) as A2aAgentOptions | undefined;
}
