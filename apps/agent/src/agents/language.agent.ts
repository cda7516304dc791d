import { A2aAgent, dataOf, dataPart, TaskPublisher, textOf, textPart } from '@app/a2a';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';

export type Language = 'fr' | 'es' | 'de' | 'en';

const LANGUAGE_NAMES: ReadonlyArray<[RegExp, Language]> = [
  [/\b(french|français|francais|fr)\b/i, 'fr'],
  [/\b(spanish|español|espanol|es)\b/i, 'es'],
  [/\b(german|deutsch|de)\b/i, 'de'],
  [/\b(english|en)\b/i, 'en'],
];

interface Explanation {
  readonly language: Language;
  /** A computed result to explain, with the expression it came from when known. */
  readonly result?: string;
  readonly expression?: string;
  /** Otherwise, a sentence to present. */
  readonly sentence?: string;
}

const TEMPLATES: Readonly<
  Record<Language, { result: (e: Explanation) => string; sentence: (s: string) => string }>
> = {
  fr: {
    result: (e) =>
      `Explication en français : le résultat${e.expression ? ` de ${e.expression}` : ''} est ${e.result}.` +
      (e.expression ? ` On calcule ${e.expression}, ce qui donne ${e.result}.` : ''),
    sentence: (s) => `Explication en français : la phrase « ${s} » est présentée telle quelle.`,
  },
  es: {
    result: (e) =>
      `Explicación en español: el resultado${e.expression ? ` de ${e.expression}` : ''} es ${e.result}.` +
      (e.expression ? ` Se calcula ${e.expression}, lo que da ${e.result}.` : ''),
    sentence: (s) => `Explicación en español: la frase «${s}» se presenta tal cual.`,
  },
  de: {
    result: (e) =>
      `Erklärung auf Deutsch: Das Ergebnis${e.expression ? ` von ${e.expression}` : ''} ist ${e.result}.` +
      (e.expression ? ` Man rechnet ${e.expression} und erhält ${e.result}.` : ''),
    sentence: (s) => `Erklärung auf Deutsch: Der Satz „${s}“ wird unverändert wiedergegeben.`,
  },
  en: {
    result: (e) =>
      `Explanation in English: the result${e.expression ? ` of ${e.expression}` : ''} is ${e.result}.` +
      (e.expression ? ` Computing ${e.expression} gives ${e.result}.` : ''),
    sentence: (s) => `Explanation in English: the sentence "${s}" is given as it is.`,
  },
};

/**
 * Reads `{language, result, expression}` or `{language, sentence}` from a
 * data part, or text such as "Explain 4 in French" or "Explain that 2+2 = 4 in Spanish".
 */
export function parseExplanation(
  text: string,
  data?: Partial<Explanation> & { languageName?: string },
): Explanation | undefined {
  const languageText = `${data?.language ?? ''} ${data?.languageName ?? ''} ${text}`;
  const language = LANGUAGE_NAMES.find(([pattern]) => pattern.test(languageText))?.[1];
  if (language === undefined) return undefined;
  if (data?.result !== undefined)
    return { language, result: String(data.result), expression: data.expression };
  if (data?.sentence) return { language, sentence: data.sentence };
  const subject = text
    .replace(/^(?:please\s+)?explain\s+(?:that\s+)?/i, '')
    .replace(/\s+in\s+\S+\s*[.!?]?$/i, '')
    .trim();
  const equation = /^(.+?)\s*=\s*(.+)$/.exec(subject);
  if (equation) return { language, expression: equation[1].trim(), result: equation[2].trim() };
  if (/^-?\d+(?:[.,]\d+)?$/.test(subject)) return { language, result: subject };
  return subject.length > 0 ? { language, sentence: subject } : undefined;
}

export function explain(explanation: Explanation): string {
  const template = TEMPLATES[explanation.language];
  return explanation.result !== undefined
    ? template.result(explanation)
    : template.sentence(explanation.sentence ?? '');
}

/** Explains a result or a sentence in French, Spanish, German or English, from templates (deterministic, offline). */
@A2aAgent({
  name: 'language',
  displayName: 'Language Agent',
  description: 'Explains a computed result or a sentence in French, Spanish, German or English.',
  version: '1.0.0',
  skills: [
    {
      id: 'explain',
      name: 'Explain',
      description: 'Explains a result in the requested language (fr, es, de, en).',
      tags: ['language', 'explain', 'translation', 'french', 'spanish', 'german', 'english'],
      examples: ['Explain 4 in French', '{"language": "fr", "expression": "2+2", "result": "4"}'],
    },
  ],
})
export class LanguageAgent implements AgentExecutor {
  execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const task = new TaskPublisher(context, bus);
    task.start();
    const request = parseExplanation(textOf(context.userMessage), dataOf(context.userMessage));
    if (request === undefined) {
      task.reject('Say what to explain and in which language: French, Spanish, German or English.');
      return Promise.resolve();
    }
    const text = explain(request);
    task.artifact([textPart(text), dataPart({ ...request, text })], { name: 'explanation' });
    task.complete(text);
    return Promise.resolve();
  }

  /** Explanations complete before a cancel can reach them. */
  cancelTask(): Promise<void> {
    return Promise.resolve();
  }
}
