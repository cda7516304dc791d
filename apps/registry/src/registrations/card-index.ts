/** What discovery filters on, taken from a v1.0 card in wire form. */
export interface CardIndex {
  readonly name: string;
  readonly url: string;
  readonly skills: string[];
  readonly tags: string[];
  readonly inputModes: string[];
  readonly outputModes: string[];
  /** Text for the full-text index: name, description, skills. */
  readonly description: string;
  readonly skillsText: string;
}

interface WireSkill {
  id?: string;
  name?: string;
  description?: string;
  tags?: string[];
  inputModes?: string[];
  outputModes?: string[];
}

interface WireCard {
  name?: string;
  description?: string;
  supportedInterfaces?: Array<{ url?: string }>;
  defaultInputModes?: string[];
  defaultOutputModes?: string[];
  skills?: WireSkill[];
}

const unique = (values: Array<string | undefined>) => [
  ...new Set(values.filter((v): v is string => !!v)),
];

export function indexCard(raw: Record<string, unknown>): CardIndex {
  const card = raw as WireCard;
  const skills = card.skills ?? [];
  return {
    name: card.name ?? '',
    url: card.supportedInterfaces?.[0]?.url ?? '',
    skills: unique(skills.map((skill) => skill.id)),
    tags: unique(skills.flatMap((skill) => (skill.tags ?? []).map((tag) => tag.toLowerCase()))),
    inputModes: unique([
      ...(card.defaultInputModes ?? []),
      ...skills.flatMap((skill) => skill.inputModes ?? []),
    ]),
    outputModes: unique([
      ...(card.defaultOutputModes ?? []),
      ...skills.flatMap((skill) => skill.outputModes ?? []),
    ]),
    description: card.description ?? '',
    skillsText: skills
      .map((skill) =>
        [skill.id, skill.name, skill.description, ...(skill.tags ?? [])].filter(Boolean).join(' '),
      )
      .join(' '),
  };
}

/** SQL (with the parameter numbers given) for the `search` column of a card. */
export function searchVectorSql(name: string, description: string, skills: string): string {
  return (
    `setweight(to_tsvector('simple', ${name}::text), 'A') || ` +
    `setweight(to_tsvector('english', ${description}::text), 'B') || ` +
    `setweight(to_tsvector('english', ${skills}::text), 'C')`
  );
}
