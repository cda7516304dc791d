import { RouteConfig } from '@nestjs/platform-fastify';

/** Fastify route config key that marks A2A routes for the A2A metrics. */
export const A2A_ROUTE_CONFIG = 'a2aMethod';

/** Route config key read by the platform's error filter (see ERROR_SHAPE_CONFIG in @app/platform). */
const ERROR_SHAPE_CONFIG = 'errorShape';

/**
 * Marks a route as an A2A operation. `method` names the operation when the
 * route serves one (HTTP+JSON); a route that serves many (JSON-RPC) sets
 * `request.a2aMethod` itself once it has read the envelope. Errors raised
 * before the handler (401, 413, 429, unparsable JSON) are answered in the
 * binding's own shape: a JSON-RPC envelope, or the HTTP+JSON error body.
 */
export const A2aRoute = (
  method = 'unknown',
  binding: 'jsonrpc' | 'http-json' = 'http-json',
): MethodDecorator =>
  RouteConfig({
    [A2A_ROUTE_CONFIG]: method,
    [ERROR_SHAPE_CONFIG]: binding === 'jsonrpc' ? 'jsonrpc' : 'a2a-rest',
  });
