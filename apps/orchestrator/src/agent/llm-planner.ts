import type { PlannerConfig } from '@app/config';
import type { RegistryClient } from '@app/registry-client';
import { Logger } from '@nestjs/common';
import { parseWorkflow } from '../workflows/workflow-definition.js';
import type { Plan, Planner } from './planner.js';

const SYSTEM_PROMPT = `You plan workflows for a multi-agent platform. You get a user's request and the
skills of the agents that are available. Answer with one JSON object and nothing else:
{"steps": [...], "output": "...", "input": {...}}
- input: the values the steps need, taken from the request.
- steps: each {"id": "<short-id>", "skill": "<one of the given skill ids>", "input": <string or object>,
  "dependsOn": ["<earlier step ids>"]}; a step's input may use \${input.<name>} and, for steps it
  depends on, \${steps.<id>.output.text}.
- output: a template for the final answer, usually "\${steps.<last step id>.output.text}".
Use only the given skill ids. If the request cannot be done with them, answer {"steps": []}.`;

interface ChatCompletion {
  choices?: Array<{ message?: { content?: string | null } }>;
}

/**
 * Plans requests the rules do not understand with a language model behind an
 * OpenAI-compatible chat completions API (PLANNER_LLM_URL). The model sees
 * the request and the skills of the healthy agents in the registry; its
 * answer is validated as a workflow like any definition, may only use those
 * skills, and may never name an agent URL (a prompt must not be able to send
 * calls anywhere).
 */
export class LlmPlanner implements Planner {
  private readonly logger = new Logger(LlmPlanner.name);

  constructor(
    private readonly config: PlannerConfig & { llmUrl: string },
    private readonly registry: RegistryClient,
  ) {}

  async plan(text: string): Promise<Plan | undefined> {
    if (text.trim() === '') return undefined;
    const skills = await this.registry.skills();
    if (skills.length === 0) return undefined;
    let content: string | null | undefined;
    try {
      const response = await fetch(`${this.config.llmUrl}/chat/completions`, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          ...(this.config.llmApiKey ? { authorization: `Bearer ${this.config.llmApiKey}` } : {}),
        },
        body: JSON.stringify({
          model: this.config.llmModel,
          temperature: 0,
          response_format: { type: 'json_object' },
          messages: [
            { role: 'system', content: SYSTEM_PROMPT },
            {
              role: 'user',
              content: JSON.stringify({
                request: text,
                skills: skills.map(({ id, name, tags, agent }) => ({ id, name, tags, agent })),
              }),
            },
          ],
        }),
        signal: AbortSignal.timeout(this.config.llmTimeoutMs),
      });
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      content = ((await response.json()) as ChatCompletion).choices?.[0]?.message?.content;
    } catch (error) {
      this.logger.warn(`The LLM planner is unavailable: ${(error as Error).message}`);
      return undefined;
    }
    return this.toPlan(content, new Set(skills.map((skill) => skill.id)));
  }

  private toPlan(content: string | null | undefined, known: Set<string>): Plan | undefined {
    let answer: { steps?: unknown; output?: unknown; input?: unknown };
    try {
      answer = JSON.parse(content ?? '') as typeof answer;
    } catch {
      this.logger.warn('The LLM planner answered something that is not JSON');
      return undefined;
    }
    if (!Array.isArray(answer.steps) || answer.steps.length === 0) return undefined;
    try {
      const definition = parseWorkflow({
        name: 'planned',
        description: 'Planned by the LLM planner from a request',
        steps: answer.steps,
        ...(typeof answer.output === 'string' ? { output: answer.output } : {}),
      });
      for (const step of definition.steps) {
        if (step.agentUrl !== undefined || step.skill === undefined || !known.has(step.skill))
          throw new Error(`step "${step.id}" must use one of the available skills`);
      }
      const input =
        typeof answer.input === 'object' && answer.input !== null && !Array.isArray(answer.input)
          ? (answer.input as Record<string, unknown>)
          : {};
      return { name: 'planned', definition, input };
    } catch (error) {
      this.logger.warn(`The LLM planner's plan is not valid: ${(error as Error).message}`);
      return undefined;
    }
  }
}
