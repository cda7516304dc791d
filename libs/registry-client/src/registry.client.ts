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

  /** The healthy instance to call for a skill, leaving out the given instance ids. */
  resolve(skill: string, exclude: readonly string[] = []): Promise<ResolvedInstance> {
    const leaveOut =
      exclude.length > 0 ? `&exclude=${exclude.map(encodeURIComponent).join(',')}` : '';
    return this.call<ResolvedInstance>(
      'GET',
      `/agents/resolve?skill=${encodeURIComponent(skill)}${leaveOut}`,
    );
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
