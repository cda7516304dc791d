import { SetMetadata } from '@nestjs/common';

/** Every authenticated request of a tenant counts against this budget. */
export const DEFAULT_THROTTLER = 'default';
/** Only requests that send a message to an agent (A2A SendMessage and streaming) count here. */
export const MESSAGE_THROTTLER = 'message';

export const IS_MESSAGE_ROUTE = 'a2a:message-route';

/** Puts a route under the per-tenant message budget as well as the default one. */
export const MessageSendRoute = (): MethodDecorator & ClassDecorator =>
  SetMetadata(IS_MESSAGE_ROUTE, true);
