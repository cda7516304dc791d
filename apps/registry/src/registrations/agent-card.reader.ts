import { AgentCard } from '@a2a-js/sdk';
import { isLegacyAgentCard, parseLegacyAgentCard } from '@a2a-js/sdk/compat/v0_3/client';
import { OutboundRequestFailed, OutboundRequestRefused, outboundRequest } from '@app/security';

/** Why a card was not accepted; the message is meant for the caller. */
export class CardRejected extends Error {
  constructor(
    message: string,
    readonly kind: 'unreachable' | 'refused' | 'invalid' | 'too-large',
  ) {
    super(message);
    this.name = 'CardRejected';
  }
}

export interface CardPolicy {
  readonly allowPrivateUrls: boolean;
  readonly maxCardBytes: number;
  readonly timeoutMs?: number;
}

export type CardFetch =
  | { readonly changed: true; readonly card: Record<string, unknown>; readonly etag: string | null }
  | { readonly changed: false };

/**
 * Turns what an agent published into a v1.0 card in wire form, or says why
 * not. A v0.3 card is converted by the SDK's compatibility layer.
 */
export function parseAgentCard(raw: unknown): Record<string, unknown> {
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) {
    throw new CardRejected('The agent card must be a JSON object', 'invalid');
  }
  let card: AgentCard;
  try {
    card = isLegacyAgentCard(raw) ? parseLegacyAgentCard(raw) : AgentCard.fromJSON(raw);
  } catch (error) {
    throw new CardRejected(`Not an agent card: ${(error as Error).message}`, 'invalid');
  }
  const problems: string[] = [];
  if (!card.name?.trim()) problems.push('name is required');
  if (!card.description?.trim()) problems.push('description is required');
  if (card.supportedInterfaces.length === 0)
    problems.push('supportedInterfaces must list at least one interface');
  for (const entry of card.supportedInterfaces) {
    try {
      const url = new URL(entry.url);
      if (url.protocol !== 'http:' && url.protocol !== 'https:')
        problems.push(`interface url ${entry.url} is not http(s)`);
    } catch {
      problems.push(`interface url "${entry.url}" is not an absolute URL`);
    }
    if (!entry.protocolBinding) problems.push('every interface needs a protocolBinding');
  }
  for (const skill of card.skills) {
    if (!skill.id?.trim() || !skill.name?.trim())
      problems.push('every skill needs an id and a name');
  }
  if (problems.length > 0)
    throw new CardRejected(`Not a valid agent card: ${problems.join('; ')}`, 'invalid');
  return AgentCard.toJSON(card) as Record<string, unknown>;
}

/** Fetches and parses the card at `cardUrl` (conditionally, when an ETag is known). */
export async function fetchAgentCard(
  cardUrl: string,
  policy: CardPolicy,
  etag?: string | null,
): Promise<CardFetch> {
  let response;
  try {
    response = await outboundRequest(cardUrl, {
      allowPrivate: policy.allowPrivateUrls,
      maxBytes: policy.maxCardBytes,
      timeoutMs: policy.timeoutMs ?? 5_000,
      headers: { accept: 'application/json', ...(etag ? { 'if-none-match': etag } : {}) },
    });
  } catch (error) {
    if (error instanceof OutboundRequestRefused) throw new CardRejected(error.message, 'refused');
    if (error instanceof OutboundRequestFailed && error.reason === 'too-large') {
      throw new CardRejected(
        `The agent card is larger than ${policy.maxCardBytes} bytes`,
        'too-large',
      );
    }
    throw new CardRejected(
      `The agent card could not be fetched: ${(error as Error).message}`,
      'unreachable',
    );
  }
  if (response.status === 304 && etag) return { changed: false };
  if (response.status !== 200) {
    throw new CardRejected(`The card URL answered HTTP ${response.status}`, 'unreachable');
  }
  let json: unknown;
  try {
    json = JSON.parse(response.body);
  } catch {
    throw new CardRejected('The card URL did not answer JSON', 'invalid');
  }
  const header = response.headers.etag;
  return {
    changed: true,
    card: parseAgentCard(json),
    etag: typeof header === 'string' ? header : null,
  };
}
