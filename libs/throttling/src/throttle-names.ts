import { SetMetadata } from '@nestjs/common';

/** Every authenticated request of a tenant counts against this budget. */
export const DEFAULT_THROTTLER = 'default';
/** Only requests that send a message to an agent (A2A SendMessage and streaming) count here. */
export const MESSAGE_THROTTLER = 'message';

export const IS_MESSAGE_ROUTE = 'a2a:message-route';

/** Decides, for a route that serves several operations, whether this request sends a message. */
export type MessageSendPredicate = (request: { body?: unknown; params?: unknown }) => boolean;

/**
 * Puts a route under the per-tenant message budget as well as the default
 * one; with a predicate, only the requests it picks (a JSON-RPC route serves
 * SendMessage and GetTask alike).
 */
export const MessageSendRoute = (
  predicate?: MessageSendPredicate,
): MethodDecorator & ClassDecorator => SetMetadata(IS_MESSAGE_ROUTE, predicate ?? true);
