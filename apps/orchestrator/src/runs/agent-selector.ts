import type { RegistryClient, ResolvedInstance } from '@app/registry-client';
import CircuitBreaker from 'opossum';
import type { Gauge } from 'prom-client';

const CARD_PATH = '/.well-known/agent-card.json';
/** How long the healthy instances of a skill, as the registry listed them, are reused. */
const CANDIDATES_TTL_MS = 1_000;

/**
 * Breaker settings: open when at least half of 5 or more calls in the last
 * 10 s failed (errors and timeouts), try again after 30 s. An instance that
 * refuses the connection is down for sure: its circuit opens at once.
 */
export const BREAKER_OPTIONS = {
  errorThresholdPercentage: 50,
  volumeThreshold: 5,
  rollingCountTimeout: 10_000,
  rollingCountBuckets: 10,
  resetTimeout: 30_000,
  // Calls carry their own deadline (the step's timeout); the breaker only counts outcomes.
  timeout: false as const,
};

enum BreakerState {
  Closed = 0,
  HalfOpen = 1,
  Open = 2,
}

/** The agent instance a step calls, and the way to call it through its breaker. */
export interface SelectedAgent {
  readonly url: string;
  /** Registry instance id, or the URL for a step with a fixed agent. */
  readonly key: string;
  /** Calls through the instance's circuit breaker; the instance stops counting as busy after it. */
  call<T>(action: () => Promise<T>): Promise<T>;
  /** Gives the instance up without calling it (idempotent; `call` does it too). */
  release(): void;
}

/** Raised without calling when every instance that could serve a step has its circuit open. */
export class NoAvailableAgent extends Error {
  override readonly name = 'NoAvailableAgent';
}

/**
 * Chooses the instance a step calls and guards each instance with a circuit
 * breaker (opossum). Among the healthy instances of a skill it takes the one
 * with the fewest calls outstanding from this process, ties going to the
 * registry's order (lowest probe latency); instances whose circuit is open
 * are left out, so the calls of a failing instance fail over to the others.
 * After `resetTimeout` one trial call goes through (half-open); its success
 * closes the circuit.
 */
export class AgentSelector {
  private readonly breakers = new Map<string, CircuitBreaker<[() => Promise<unknown>], unknown>>();
  private readonly outstanding = new Map<string, number>();
  private readonly candidates = new Map<
    string,
    { at: number; instances: Promise<ResolvedInstance[]> }
  >();

  constructor(
    private readonly registry: RegistryClient | undefined,
    private readonly breakerState: Gauge<'agent'>,
  ) {}

  /** A fixed agent URL, guarded by its own breaker (no failover: there is no other). */
  fixed(url: string): SelectedAgent {
    return this.selected(url, url);
  }

  /** An instance for the skill, or {@link NoAvailableAgent} when every candidate's circuit is open. */
  async forSkill(skill: string): Promise<SelectedAgent> {
    if (this.registry === undefined)
      throw new Error(`Skill "${skill}" needs a registry, and none is configured`);
    const instances = await this.instancesOf(skill);
    if (instances.length === 0) throw new NoAvailableAgent(`No healthy agent has skill "${skill}"`);
    let best: ResolvedInstance | undefined;
    for (const instance of instances) {
      if (this.breakers.get(instance.id)?.opened === true) continue;
      if (best === undefined || this.load(instance.id) < this.load(best.id)) best = instance;
    }
    if (best === undefined)
      throw new NoAvailableAgent(
        `Every instance with skill "${skill}" has its circuit open; retrying later`,
      );
    const url = best.cardUrl.endsWith(CARD_PATH)
      ? best.cardUrl.slice(0, -CARD_PATH.length)
      : best.url;
    return this.selected(best.id, url);
  }

  /** Calls outstanding from this process per instance (for tests and diagnostics). */
  load(key: string): number {
    return this.outstanding.get(key) ?? 0;
  }

  shutdown(): void {
    for (const breaker of this.breakers.values()) breaker.shutdown();
    this.breakers.clear();
  }

  /**
   * The chosen instance counts as busy from the moment it is chosen, so that
   * steps choosing at the same time spread over the instances.
   */
  private selected(key: string, url: string): SelectedAgent {
    const breaker = this.breakerOf(key);
    this.outstanding.set(key, this.load(key) + 1);
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      const left = this.load(key) - 1;
      if (left > 0) this.outstanding.set(key, left);
      else this.outstanding.delete(key);
    };
    return {
      url,
      key,
      release,
      call: async <T>(action: () => Promise<T>): Promise<T> => {
        try {
          return (await breaker.fire(action)) as T;
        } catch (error) {
          if (isConnectionRefused(error) && !breaker.opened) breaker.open();
          throw error;
        } finally {
          release();
        }
      },
    };
  }

  private breakerOf(key: string): CircuitBreaker<[() => Promise<unknown>], unknown> {
    let breaker = this.breakers.get(key);
    if (breaker === undefined) {
      breaker = new CircuitBreaker((action: () => Promise<unknown>) => action(), {
        ...BREAKER_OPTIONS,
        name: key,
      });
      breaker.on('open', () => this.breakerState.set({ agent: key }, BreakerState.Open));
      breaker.on('halfOpen', () => this.breakerState.set({ agent: key }, BreakerState.HalfOpen));
      breaker.on('close', () => this.breakerState.set({ agent: key }, BreakerState.Closed));
      this.breakerState.set({ agent: key }, BreakerState.Closed);
      this.breakers.set(key, breaker);
    }
    return breaker;
  }

  private instancesOf(skill: string): Promise<ResolvedInstance[]> {
    const cached = this.candidates.get(skill);
    if (cached !== undefined && Date.now() - cached.at < CANDIDATES_TTL_MS) return cached.instances;
    const instances = this.registry!.instances(skill);
    this.candidates.set(skill, { at: Date.now(), instances });
    instances.catch(() => this.candidates.delete(skill));
    return instances;
  }
}

/** Whether a call failed because nothing listened at the agent's address (the request was never sent). */
export function isConnectionRefused(error: unknown): boolean {
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    if ((current as { code?: string }).code === 'ECONNREFUSED') return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/**
 * An error's message with the causes under it (fetch reports every network
 * failure as "fetch failed", the reason is in its cause): "fetch failed:
 * other side closed (UND_ERR_SOCKET)".
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  for (let current: unknown = error, depth = 0; current && depth < 4; depth++) {
    const { message, code } = current as { message?: unknown; code?: unknown };
    const text = typeof message === 'string' && message.length > 0 ? message : 'unknown error';
    parts.push(typeof code === 'string' && !text.includes(code) ? `${text} (${code})` : text);
    current = (current as { cause?: unknown }).cause;
  }
  return parts.join(': ');
}
