import { parseWorkflow, type WorkflowDefinition } from '../workflows/workflow-definition.js';

/** A plan for one request: the workflow to run and its input. */
export interface Plan {
  readonly name: string;
  readonly definition: WorkflowDefinition;
  readonly input: Record<string, unknown>;
}

/** Turns a request in words into a workflow over skills the registry knows; undefined when it cannot. */
export interface Planner {
  plan(text: string): Promise<Plan | undefined> | Plan | undefined;
}

/** Asks each planner in turn; the first plan wins. */
export class PlannerChain implements Planner {
  constructor(private readonly planners: readonly Planner[]) {}

  async plan(text: string): Promise<Plan | undefined> {
    for (const planner of this.planners) {
      const plan = await planner.plan(text);
      if (plan !== undefined) return plan;
    }
    return undefined;
  }
}

const LANGUAGES: ReadonlyArray<[RegExp, string]> = [
  [/^(french|français|francais)$/i, 'fr'],
  [/^(spanish|español|espanol)$/i, 'es'],
  [/^(german|deutsch)$/i, 'de'],
  [/^english$/i, 'en'],
];

/**
 * Understands "calculate <expression> and explain in <language>" (and
 * "compute" / "what is"): a calculate step, then an explain step that gets
 * the expression and the result.
 */
export class RuleBasedPlanner implements Planner {
  plan(text: string): Plan | undefined {
    const match =
      /^\s*(?:please\s+)?(?:calculate|compute|what\s+is)\s+(.+?)\s+and\s+explain(?:\s+it)?\s+in\s+([a-zà-ÿ]+)\s*[.!?]?\s*$/i.exec(
        text,
      );
    if (!match) return undefined;
    const language = LANGUAGES.find(([pattern]) => pattern.test(match[2]))?.[1];
    if (language === undefined) return undefined;
    return {
      name: 'calculate-and-explain',
      input: { expression: match[1].trim(), language },
      definition: parseWorkflow({
        name: 'calculate-and-explain',
        description: 'Planned from a request: compute an expression, then explain the result',
        steps: [
          {
            id: 'calculate',
            skill: 'calculate',
            input: 'Calculate ${input.expression}',
            retry: { attempts: 3, backoffMs: 200 },
          },
          {
            id: 'explain',
            skill: 'explain',
            dependsOn: ['calculate'],
            input: {
              language: '${input.language}',
              expression: '${input.expression}',
              result: '${steps.calculate.output.text}',
            },
            retry: { attempts: 3, backoffMs: 200 },
          },
        ],
        output: '${steps.explain.output.text}',
      }),
    };
  }
}
