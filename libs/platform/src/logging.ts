import type { PlatformConfig } from '@app/config';
import type { LoggerService } from '@nestjs/common';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { pino, type Level, type Logger as Pino } from 'pino';

const QUIET_ROUTES = new Set(['/health', '/ready', '/metrics']);
const QUIET_PATHS = /^\/(health|ready|metrics)(\?|$)/;

/**
 * The app's one pino logger: JSON lines with app, instance and version on
 * every line and credentials redacted wherever they appear in a logged object.
 */
export function createPlatformLogger(app: PlatformConfig['app']): Pino {
  return pino({
    level: app.logLevel,
    base: { app: app.name, instance: app.instanceId, version: app.version },
    messageKey: 'msg',
    redact: {
      paths: [
        'req.headers.authorization',
        'req.headers["x-api-key"]',
        'req.headers.cookie',
        'res.headers["set-cookie"]',
        '*.password',
        '*.apiKey',
        '*.token',
      ],
      censor: '[redacted]',
    },
  });
}

type NestLevel = 'log' | 'error' | 'warn' | 'debug' | 'verbose' | 'fatal';
const LEVELS: Record<NestLevel, Level> = {
  log: 'info',
  error: 'error',
  warn: 'warn',
  debug: 'debug',
  verbose: 'trace',
  fatal: 'fatal',
};

/**
 * Nest's logger interface on pino. `new Logger(Context)` calls arrive here
 * with the context last; a first argument that is an object (`{ err, ... }`)
 * becomes the line's fields, the way pino itself is called.
 *
 * Nothing per request is kept in async context (which costs every promise
 * a hook on Node 20): the request line written by {@link logRequests}
 * carries the request id and tenant, and errors are logged with their id.
 */
export class PlatformLogger implements LoggerService {
  constructor(readonly pino: Pino) {}

  log(message: unknown, ...rest: unknown[]): void {
    this.write('log', message, rest);
  }
  error(message: unknown, ...rest: unknown[]): void {
    this.write('error', message, rest);
  }
  warn(message: unknown, ...rest: unknown[]): void {
    this.write('warn', message, rest);
  }
  debug(message: unknown, ...rest: unknown[]): void {
    this.write('debug', message, rest);
  }
  verbose(message: unknown, ...rest: unknown[]): void {
    this.write('verbose', message, rest);
  }
  fatal(message: unknown, ...rest: unknown[]): void {
    this.write('fatal', message, rest);
  }

  private write(nestLevel: NestLevel, message: unknown, rest: unknown[]): void {
    const level = LEVELS[nestLevel];
    if (!this.pino.isLevelEnabled(level)) return;
    const params = [...rest];
    const context =
      params.length > 0 && typeof params.at(-1) === 'string' ? params.pop() : undefined;
    const fields: Record<string, unknown> = context === undefined ? {} : { context };
    let text: string | undefined;
    if (message instanceof Error) {
      fields.err = message;
      text = message.message;
    } else if (typeof message === 'object' && message !== null) {
      Object.assign(fields, message);
      if (typeof params[0] === 'string') text = params.shift() as string;
    } else {
      text = String(message);
    }
    // Nest passes an error's stack as the parameter after the message.
    if (nestLevel === 'error' && typeof params[0] === 'string') fields.stack = params.shift();
    if (params.length > 0) fields.params = params;
    this.pino[level](fields, text);
  }
}

type LoggedRequest = FastifyRequest & { auth?: { tenantId: string } };

function levelOf(statusCode: number): Level {
  if (statusCode >= 500) return 'error';
  return statusCode >= 400 ? 'warn' : 'info';
}

/**
 * One line per request once its response is sent (none for health,
 * readiness and metrics probes): request id (Fastify's, from `X-Request-Id`
 * when the caller sent one), method, URL, tenant once authenticated, status
 * and time. Written from Fastify's `onResponse` hook, so that it also covers
 * requests that never reach a handler (401, 404, 413, 429).
 */
export function logRequests(fastify: FastifyInstance, logger: Pino): void {
  fastify.addHook('onResponse', (request: LoggedRequest, reply: FastifyReply, done) => {
    const statusCode = reply.statusCode;
    const level = levelOf(statusCode);
    if (logger.isLevelEnabled(level)) {
      const route = request.routeOptions.url;
      const quiet = route !== undefined ? QUIET_ROUTES.has(route) : QUIET_PATHS.test(request.url);
      if (!quiet) {
        logger[level](
          {
            req: { id: request.id, method: request.method, url: request.url },
            ...(request.auth ? { tenantId: request.auth.tenantId } : {}),
            res: { statusCode },
            responseTime: Math.round(reply.elapsedTime),
          },
          'request completed',
        );
      }
    }
    done();
  });
}
