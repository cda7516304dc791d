/** A multi-agent workflow: steps that call agents, ordered by their dependencies (a DAG). */
export interface WorkflowDefinition {
  /** Lower-case slug; runs are started by name. */
  readonly name: string;
  readonly description?: string;
  readonly steps: readonly WorkflowStep[];
  /** Template of the run's combined answer, e.g. "${steps.explain.output.text}"; by default the last step's text. */
  readonly output?: string;
}

export interface WorkflowStep {
  readonly id: string;
  /** A skill, resolved through the registry to a healthy instance when the step runs. */
  readonly skill?: string;
  /** Or a fixed agent: the base URL its card is served under. */
  readonly agentUrl?: string;
  /** The message to send: a text template, or an object (sent as a data part) whose strings are templates. */
  readonly input: string | Readonly<Record<string, unknown>>;
  readonly dependsOn?: readonly string[];
  readonly retry?: { readonly attempts: number; readonly backoffMs: number };
  readonly timeoutMs?: number;
  /** Whether calling the agent twice for one attempt is harmless (default true). */
  readonly idempotent?: boolean;
}

export class WorkflowInvalid extends Error {
  constructor(readonly problems: readonly string[]) {
    super(`The workflow is not valid: ${problems.join('; ')}`);
    this.name = 'WorkflowInvalid';
  }
}

/** What a workflow name may be: a lower-case slug. */
export const WORKFLOW_NAME = /^[a-z][a-z0-9-]{0,62}$/;
const SLUG = WORKFLOW_NAME;
const STEP_ID = /^[a-z][a-z0-9_-]{0,62}$/;
const REFERENCE = /\$\{\s*([^}]+?)\s*\}/g;
const MAX_STEPS = 100;
const MAX_TIMEOUT_MS = 3_600_000;

const isRecord = (value: unknown): value is Record<string, unknown> =>
  value !== null && typeof value === 'object' && !Array.isArray(value);

/** The `${...}` references in a template, which may be a string or an object of strings. */
export function templateReferences(template: unknown): string[] {
  if (typeof template === 'string')
    return [...template.matchAll(REFERENCE)].map((match) => match[1]);
  if (Array.isArray(template)) return template.flatMap(templateReferences);
  if (isRecord(template)) return Object.values(template).flatMap(templateReferences);
  return [];
}

/** Step ids in an order where every step comes after its dependencies; undefined when there is a cycle. */
export function topologicalOrder(
  steps: readonly Pick<WorkflowStep, 'id' | 'dependsOn'>[],
): string[] | undefined {
  const remaining = new Map(steps.map((step) => [step.id, new Set(step.dependsOn ?? [])]));
  const order: string[] = [];
  while (remaining.size > 0) {
    const ready = [...remaining].filter(([, deps]) => deps.size === 0).map(([id]) => id);
    if (ready.length === 0) return undefined;
    for (const id of ready) {
      remaining.delete(id);
      order.push(id);
      for (const deps of remaining.values()) deps.delete(id);
    }
  }
  return order;
}

function ancestorsOf(
  id: string,
  byId: ReadonlyMap<string, WorkflowStep>,
  seen = new Set<string>(),
): Set<string> {
  for (const dependency of byId.get(id)?.dependsOn ?? []) {
    if (!seen.has(dependency)) {
      seen.add(dependency);
      ancestorsOf(dependency, byId, seen);
    }
  }
  return seen;
}

/**
 * Checks a workflow as a client sent it (JSON or YAML, already parsed) and
 * returns it typed; every problem is named, with the step it is in.
 */
export function parseWorkflow(raw: unknown, name?: string): WorkflowDefinition {
  const problems: string[] = [];
  if (!isRecord(raw)) throw new WorkflowInvalid(['the workflow must be an object']);
  const workflowName = raw.name ?? name;
  if (typeof workflowName !== 'string' || !SLUG.test(workflowName))
    problems.push('name must be a lower-case slug');
  if (name !== undefined && raw.name !== undefined && raw.name !== name)
    problems.push(`name ${JSON.stringify(raw.name)} does not match the path ("${name}")`);
  if (raw.description !== undefined && typeof raw.description !== 'string')
    problems.push('description must be a string');
  if (raw.output !== undefined && typeof raw.output !== 'string')
    problems.push('output must be a string template');
  if (!Array.isArray(raw.steps) || raw.steps.length === 0)
    problems.push('steps must list at least one step');
  else if (raw.steps.length > MAX_STEPS) problems.push(`a workflow has at most ${MAX_STEPS} steps`);
  if (problems.length > 0) throw new WorkflowInvalid(problems);

  const steps: WorkflowStep[] = [];
  const ids = new Set<string>();
  (raw.steps as unknown[]).forEach((candidate, index) => {
    const at = `steps[${index}]`;
    if (!isRecord(candidate)) return void problems.push(`${at} must be an object`);
    const id = candidate.id;
    if (typeof id !== 'string' || !STEP_ID.test(id))
      return void problems.push(`${at}.id must be a slug`);
    const where = `step "${id}"`;
    if (ids.has(id)) problems.push(`${where} is defined twice`);
    ids.add(id);
    const hasSkill = typeof candidate.skill === 'string' && candidate.skill.length > 0;
    const hasUrl = typeof candidate.agentUrl === 'string' && candidate.agentUrl.length > 0;
    if (hasSkill === hasUrl) problems.push(`${where} needs exactly one of skill or agentUrl`);
    if (hasUrl) {
      try {
        const url = new URL(candidate.agentUrl as string);
        if (url.protocol !== 'http:' && url.protocol !== 'https:')
          problems.push(`${where}: agentUrl must be http(s)`);
      } catch {
        problems.push(`${where}: agentUrl must be an absolute URL`);
      }
    }
    if (typeof candidate.input !== 'string' && !isRecord(candidate.input))
      problems.push(`${where}: input must be a string or an object`);
    const dependsOn = candidate.dependsOn ?? [];
    if (!Array.isArray(dependsOn) || dependsOn.some((entry) => typeof entry !== 'string')) {
      problems.push(`${where}: dependsOn must list step ids`);
    }
    const retry = candidate.retry;
    if (retry !== undefined) {
      if (
        !isRecord(retry) ||
        !Number.isInteger(retry.attempts) ||
        (retry.attempts as number) < 1 ||
        (retry.attempts as number) > 20
      ) {
        problems.push(`${where}: retry.attempts must be an integer from 1 to 20`);
      } else if (
        !Number.isInteger(retry.backoffMs) ||
        (retry.backoffMs as number) < 0 ||
        (retry.backoffMs as number) > 600_000
      ) {
        problems.push(`${where}: retry.backoffMs must be an integer from 0 to 600000`);
      }
    }
    const timeout = candidate.timeoutMs;
    if (
      timeout !== undefined &&
      (!Number.isInteger(timeout) ||
        (timeout as number) < 100 ||
        (timeout as number) > MAX_TIMEOUT_MS)
    ) {
      problems.push(`${where}: timeoutMs must be an integer from 100 to ${MAX_TIMEOUT_MS}`);
    }
    if (candidate.idempotent !== undefined && typeof candidate.idempotent !== 'boolean')
      problems.push(`${where}: idempotent must be a boolean`);
    steps.push({
      id,
      ...(hasSkill ? { skill: candidate.skill as string } : {}),
      ...(hasUrl ? { agentUrl: candidate.agentUrl as string } : {}),
      input: candidate.input as WorkflowStep['input'],
      dependsOn: Array.isArray(dependsOn) ? (dependsOn as string[]) : [],
      ...(isRecord(retry)
        ? { retry: { attempts: retry.attempts as number, backoffMs: retry.backoffMs as number } }
        : {}),
      ...(timeout !== undefined ? { timeoutMs: timeout as number } : {}),
      idempotent: candidate.idempotent === undefined ? true : (candidate.idempotent as boolean),
    });
  });
  if (problems.length > 0) throw new WorkflowInvalid(problems);

  const byId = new Map(steps.map((step) => [step.id, step]));
  for (const step of steps) {
    for (const dependency of step.dependsOn ?? []) {
      if (!byId.has(dependency))
        problems.push(`step "${step.id}" depends on unknown step "${dependency}"`);
      if (dependency === step.id) problems.push(`step "${step.id}" depends on itself`);
    }
  }
  if (problems.length === 0 && topologicalOrder(steps) === undefined)
    problems.push('the steps form a cycle: dependsOn must be a DAG');
  if (problems.length === 0) {
    const checkReferences = (template: unknown, where: string, available: ReadonlySet<string>) => {
      for (const reference of templateReferences(template)) {
        const [root, stepId] = reference.split('.');
        if (root === 'input') continue;
        if (root !== 'steps' || stepId === undefined) {
          problems.push(`${where}: "\${${reference}}" must start with input. or steps.<id>.`);
        } else if (!available.has(stepId)) {
          problems.push(
            `${where}: "\${${reference}}" uses step "${stepId}", which it does not depend on`,
          );
        }
      }
    };
    for (const step of steps)
      checkReferences(step.input, `step "${step.id}"`, ancestorsOf(step.id, byId));
    if (typeof raw.output === 'string') checkReferences(raw.output, 'output', new Set(byId.keys()));
  }
  if (problems.length > 0) throw new WorkflowInvalid(problems);
  return {
    name: workflowName as string,
    ...(typeof raw.description === 'string' ? { description: raw.description } : {}),
    steps,
    ...(typeof raw.output === 'string' ? { output: raw.output } : {}),
  };
}
