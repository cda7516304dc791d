import { A2aAgent, dataOf, dataPart, TaskPublisher, textOf, textPart } from '@app/a2a';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { all, create, type MathJsInstance } from 'mathjs';

const math: MathJsInstance = create(all, { number: 'number', precision: 64 });
// Taken before the overrides below, which only affect expressions.
const evaluate = math.evaluate.bind(math);
const simplify = math.simplify.bind(math);
const derivative = math.derivative.bind(math);
const format = math.format.bind(math);

// mathjs' own advice for untrusted input: keep the functions that could
// define or parse new code out of reach of expressions.
const disabled = (name: string) => () => {
  throw new Error(`Function ${name} is not available`);
};
math.import(
  {
    import: disabled('import'),
    createUnit: disabled('createUnit'),
    evaluate: disabled('evaluate'),
    parse: disabled('parse'),
    simplify: disabled('simplify'),
    derivative: disabled('derivative'),
    resolve: disabled('resolve'),
    reviver: disabled('reviver'),
  },
  { override: true },
);

const MAX_EXPRESSION_LENGTH = 1_000;

export interface MathRequest {
  readonly operation: 'evaluate' | 'simplify' | 'derivative';
  readonly expression: string;
  readonly variable?: string;
}

/**
 * Reads what to compute from a data part (`{expression, operation?, variable?}`)
 * or from text such as "Calculate 2+2", "simplify 2x + 3x" or
 * "derivative of x^2 with respect to x".
 */
export function parseMathRequest(
  text: string,
  data?: Partial<MathRequest>,
): MathRequest | undefined {
  if (data?.expression) {
    return {
      operation: data.operation ?? 'evaluate',
      expression: data.expression,
      variable: data.variable,
    };
  }
  const cleaned = text.replace(/[?.!]+\s*$/, '').trim();
  const derivativeMatch =
    /^(?:the\s+)?derivative\s+of\s+(.+?)(?:\s+with\s+respect\s+to\s+([a-z]))?$/i.exec(cleaned);
  if (derivativeMatch) {
    return {
      operation: 'derivative',
      expression: derivativeMatch[1],
      variable: derivativeMatch[2] ?? 'x',
    };
  }
  const simplifyMatch = /^simplify\s+(.+)$/i.exec(cleaned);
  if (simplifyMatch) return { operation: 'simplify', expression: simplifyMatch[1] };
  const expression = cleaned
    .replace(/^(?:please\s+)?(?:calculate|compute|evaluate|what\s+is|what's|solve)\s+/i, '')
    .replace(/\s+and\s+explain\s+.*$/i, '')
    .trim();
  return expression.length > 0 ? { operation: 'evaluate', expression } : undefined;
}

export function computeMath(request: MathRequest): string {
  if (request.expression.length > MAX_EXPRESSION_LENGTH) {
    throw new Error(`The expression is longer than ${MAX_EXPRESSION_LENGTH} characters`);
  }
  switch (request.operation) {
    case 'simplify':
      return simplify(request.expression).toString();
    case 'derivative':
      return derivative(request.expression, request.variable ?? 'x').toString();
    case 'evaluate': {
      const value: unknown = evaluate(request.expression);
      if (typeof value === 'function' || value === undefined)
        throw new Error('The expression has no value');
      return format(value, { precision: 14 });
    }
  }
}

/** Evaluates arithmetic and algebra with mathjs (never `eval`); the result comes as text and as data. */
@A2aAgent({
  name: 'math',
  displayName: 'Math Agent',
  description: 'Evaluates arithmetic expressions, simplifies algebraic ones and takes derivatives.',
  version: '1.0.0',
  skills: [
    {
      id: 'calculate',
      name: 'Calculate',
      description: 'Evaluates an arithmetic expression such as 2+2 or sqrt(16) * 3.',
      tags: ['math', 'arithmetic', 'calculator'],
      examples: ['Calculate 2+2', '{"expression": "sqrt(16) * 3"}'],
    },
    {
      id: 'algebra',
      name: 'Algebra',
      description: 'Simplifies expressions and takes derivatives.',
      tags: ['math', 'algebra'],
      examples: ['simplify 2x + 3x', 'derivative of x^2 with respect to x'],
    },
  ],
})
export class MathAgent implements AgentExecutor {
  execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const task = new TaskPublisher(context, bus);
    task.start();
    const request = parseMathRequest(
      textOf(context.userMessage),
      dataOf<Partial<MathRequest>>(context.userMessage),
    );
    if (request === undefined) {
      task.reject('Send an expression to compute, e.g. "Calculate 2+2" or {"expression": "2+2"}.');
      return Promise.resolve();
    }
    let result: string;
    try {
      result = computeMath(request);
    } catch (error) {
      task.fail(`Cannot compute "${request.expression}": ${(error as Error).message}`);
      return Promise.resolve();
    }
    task.artifact([textPart(result), dataPart({ ...request, result })], { name: 'result' });
    task.complete(`${request.expression} = ${result}`);
    return Promise.resolve();
  }

  /** Math tasks complete before a cancel can reach them. */
  cancelTask(): Promise<void> {
    return Promise.resolve();
  }
}
