/** An instance as the registry returns it. */
export interface RegisteredInstance {
  readonly id: string;
  readonly agentName: string;
  readonly url: string;
  readonly cardUrl: string;
  readonly status: string;
}

export interface ResolvedInstance {
  readonly id: string;
  readonly name: string;
  readonly url: string;
  readonly cardUrl: string;
  readonly latencyMs: number | null;
}

export class RegistryError extends Error {
  constructor(
    message: string,
    readonly status: number,
  ) {
    super(message);
    this.name = 'RegistryError';
  }
}

/** The registry's HTTP API, for the platform's other apps. */
export class RegistryClient {
  constructor(
    private readonly baseUrl: string,
    private readonly apiKey: string,
    private readonly timeoutMs = 5_000,
  ) {}

  register(cardUrl: string): Promise<RegisteredInstance> {
    return this.call<RegisteredInstance>('POST', '/agents', { cardUrl });
  }

  heartbeat(id: string): Promise<RegisteredInstance> {
    return this.call<RegisteredInstance>('PUT', `/agents/${encodeURIComponent(id)}/heartbeat`);
  }

  async deregister(id: string): Promise<void> {
    await this.call('DELETE', `/agents/${encodeURIComponent(id)}`);
  }

  /**
   * Every healthy instance of a skill, best first (health, then probe
   * latency), for callers that choose among them themselves.
   */
  async instances(skill: string): Promise<ResolvedInstance[]> {
    const result = await this.call<{
      agents: Array<{ name: string; instances: Array<Omit<ResolvedInstance, 'name'>> }>;
    }>('GET', `/agents?skill=${encodeURIComponent(skill)}&healthy=true&pageSize=100`);
    return result.agents
      .flatMap((agent) => agent.instances.map((instance) => ({ ...instance, name: agent.name })))
      .sort((a, b) => (a.latencyMs ?? Infinity) - (b.latencyMs ?? Infinity));
  }

  /** The skills of the healthy agents a caller can see, each once. */
  async skills(): Promise<Array<{ id: string; name: string; tags: string[]; agent: string }>> {
    const result = await this.call<{
      agents: Array<{
        name: string;
        description: string;
        skills: Array<{ id: string; name: string; tags: string[] }>;
      }>;
    }>('GET', '/agents?healthy=true&pageSize=100');
    const seen = new Map<string, { id: string; name: string; tags: string[]; agent: string }>();
    for (const agent of result.agents)
      for (const skill of agent.skills)
        if (!seen.has(skill.id)) seen.set(skill.id, { ...skill, agent: agent.name });
    return [...seen.values()];
  }

  private async call<T>(method: string, path: string, body?: unknown): Promise<T> {
    const response = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${this.apiKey}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body !== undefined ? JSON.stringify(body) : undefined,
      signal: AbortSignal.timeout(this.timeoutMs),
    });
    if (response.status === 204) return undefined as T;
    const text = await response.text();
    if (!response.ok) {
      let detail = text;
      try {
        detail = (JSON.parse(text) as { detail?: string }).detail ?? text;
      } catch {
        // not JSON: keep the text
      }
      throw new RegistryError(
        `Registry answered ${response.status} to ${method} ${path}: ${detail}`,
        response.status,
      );
    }
    return JSON.parse(text) as T;
  }
}
