import { RouteConfig } from '@nestjs/platform-fastify';

/** Fastify route config key that marks A2A routes for the A2A metrics. */
export const A2A_ROUTE_CONFIG = 'a2aMethod';

/**
 * Marks a route as an A2A operation. `method` names the operation when the
 * route serves one (HTTP+JSON); a route that serves many (JSON-RPC) sets
 * `request.a2aMethod` itself once it has read the envelope.
 */
export const A2aRoute = (method = 'unknown'): MethodDecorator =>
  RouteConfig({ [A2A_ROUTE_CONFIG]: method });
