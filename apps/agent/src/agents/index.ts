import type { AgentExecutor } from '@a2a-js/sdk/server';
import type { Type } from '@nestjs/common';
import { EchoAgent } from './echo.agent.js';
import { LanguageAgent } from './language.agent.js';
import { MathAgent } from './math.agent.js';
import { SlowAgent } from './slow.agent.js';

/** Every agent this app can serve; `AGENTS` picks which ones it does. */
export const AGENT_CATALOG: Readonly<Record<string, Type<AgentExecutor>>> = {
  echo: EchoAgent,
  math: MathAgent,
  language: LanguageAgent,
  slow: SlowAgent,
};

/** The agent classes named in `AGENTS`; an unknown name stops the app at start-up. */
export function selectAgents(names: readonly string[]): Array<Type<AgentExecutor>> {
  const unknown = names.filter((name) => !(name in AGENT_CATALOG));
  if (unknown.length > 0) {
    throw new Error(
      `AGENTS names unknown agents: ${unknown.join(', ')} (known: ${Object.keys(AGENT_CATALOG).join(', ')})`,
    );
  }
  return names.map((name) => AGENT_CATALOG[name]);
}
