/** What a step's input template may refer to: the run's input and the outputs of earlier steps. */
export interface TemplateScope {
  readonly input: Record<string, unknown>;
  readonly steps: Record<string, { output: unknown }>;
}

const REFERENCE = /\$\{\s*([^}]+?)\s*\}/g;
const WHOLE_REFERENCE = /^\$\{\s*([^}]+?)\s*\}$/;

function lookup(scope: TemplateScope, path: string): unknown {
  let value: unknown = scope;
  for (const key of path.split('.')) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

const asText = (value: unknown): string =>
  value === undefined || value === null
    ? ''
    : typeof value === 'string'
      ? value
      : JSON.stringify(value);

/**
 * Fills a template: in strings `${input.x}` and `${steps.a.output.text}` are
 * replaced by their values (a string that is one reference keeps the value's
 * type); objects and arrays are filled member by member.
 */
export function renderTemplate(template: unknown, scope: TemplateScope): unknown {
  if (typeof template === 'string') {
    const whole = WHOLE_REFERENCE.exec(template);
    if (whole) return lookup(scope, whole[1]) ?? '';
    return template.replace(REFERENCE, (_, path: string) => asText(lookup(scope, path)));
  }
  if (Array.isArray(template)) return template.map((item) => renderTemplate(item, scope));
  if (template !== null && typeof template === 'object') {
    return Object.fromEntries(
      Object.entries(template).map(([key, value]) => [key, renderTemplate(value, scope)]),
    );
  }
  return template;
}
