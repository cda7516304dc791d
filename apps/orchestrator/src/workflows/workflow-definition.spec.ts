import { describe, expect, it } from '@jest/globals';
import { parseWorkflow, topologicalOrder, WorkflowInvalid } from './workflow-definition.js';

const explainInFrench = {
  name: 'calculate-and-explain',
  description: 'Computes an expression and explains the result in a language',
  steps: [
    { id: 'calculate', skill: 'calculate', input: 'Calculate ${input.expression}' },
    {
      id: 'explain',
      skill: 'explain',
      dependsOn: ['calculate'],
      input: {
        language: '${input.language}',
        expression: '${input.expression}',
        result: '${steps.calculate.output.text}',
      },
      retry: { attempts: 3, backoffMs: 500 },
      timeoutMs: 10_000,
      idempotent: false,
    },
  ],
  output: '${steps.explain.output.text}',
};

const problemsOf = (raw: unknown, name?: string): string[] => {
  try {
    parseWorkflow(raw, name);
  } catch (error) {
    if (error instanceof WorkflowInvalid) return [...error.problems];
    throw error;
  }
  return [];
};

describe('parseWorkflow', () => {
  it('accepts a valid two-step workflow and fills the defaults', () => {
    const workflow = parseWorkflow(explainInFrench);
    expect(workflow.steps.map((step) => [step.id, step.idempotent, step.dependsOn])).toEqual([
      ['calculate', true, []],
      ['explain', false, ['calculate']],
    ]);
    expect(workflow.output).toBe('${steps.explain.output.text}');
  });

  it('takes the name from the path when the body has none, and refuses a different one', () => {
    expect(parseWorkflow({ ...explainInFrench, name: undefined }, 'from-path').name).toBe(
      'from-path',
    );
    expect(problemsOf(explainInFrench, 'other')).toEqual([
      expect.stringContaining('does not match'),
    ]);
  });

  it('rejects a cycle at save time', () => {
    const cyclic = {
      name: 'cyclic',
      steps: [
        { id: 'a', skill: 'x', input: 'go', dependsOn: ['c'] },
        { id: 'b', skill: 'x', input: 'go', dependsOn: ['a'] },
        { id: 'c', skill: 'x', input: 'go', dependsOn: ['b'] },
      ],
    };
    expect(problemsOf(cyclic)).toEqual(['the steps form a cycle: dependsOn must be a DAG']);
  });

  it.each([
    [
      'an unknown dependency',
      { id: 'a', skill: 's', input: 'x', dependsOn: ['ghost'] },
      'unknown step "ghost"',
    ],
    [
      'both skill and agentUrl',
      { id: 'a', skill: 's', agentUrl: 'http://a.example.com', input: 'x' },
      'exactly one of skill or agentUrl',
    ],
    ['neither skill nor agentUrl', { id: 'a', input: 'x' }, 'exactly one of skill or agentUrl'],
    ['a non-http agent URL', { id: 'a', agentUrl: 'ftp://a.example.com', input: 'x' }, 'http(s)'],
    [
      'a bad retry policy',
      { id: 'a', skill: 's', input: 'x', retry: { attempts: 0, backoffMs: 1 } },
      'retry.attempts',
    ],
    ['a timeout out of range', { id: 'a', skill: 's', input: 'x', timeoutMs: 5 }, 'timeoutMs'],
    ['no input', { id: 'a', skill: 's' }, 'input must be'],
    [
      'a reference to a step it does not depend on',
      { id: 'a', skill: 's', input: '${steps.b.output.text}' },
      'does not depend on',
    ],
    [
      'a reference to something else',
      { id: 'a', skill: 's', input: '${env.SECRET}' },
      'must start with input.',
    ],
  ])('names %s', (_, step, problem) => {
    const other = { id: 'b', skill: 's', input: 'x' };
    expect(problemsOf({ name: 'w', steps: [step, other] }).join('\n')).toContain(problem);
  });

  it('rejects duplicate step ids, an empty workflow and a bad name', () => {
    expect(
      problemsOf({
        name: 'w',
        steps: [
          { id: 'a', skill: 's', input: 'x' },
          { id: 'a', skill: 's', input: 'y' },
        ],
      }),
    ).toEqual(['step "a" is defined twice']);
    expect(problemsOf({ name: 'w', steps: [] })).toEqual(['steps must list at least one step']);
    expect(
      problemsOf({ name: 'Not A Slug', steps: [{ id: 'a', skill: 's', input: 'x' }] }),
    ).toEqual(['name must be a lower-case slug']);
    expect(problemsOf('nope')).toEqual(['the workflow must be an object']);
  });
});

describe('topologicalOrder', () => {
  it('orders a fan-out / fan-in DAG with every step after its dependencies', () => {
    const order = topologicalOrder([
      { id: 'join', dependsOn: ['left', 'right'] },
      { id: 'left', dependsOn: ['start'] },
      { id: 'right', dependsOn: ['start'] },
      { id: 'start', dependsOn: [] },
    ]);
    expect(order?.[0]).toBe('start');
    expect(order?.at(-1)).toBe('join');
    expect(order).toHaveLength(4);
  });
});
