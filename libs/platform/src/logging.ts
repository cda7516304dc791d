import type { PlatformConfigService } from '@app/config';
import { RequestMethod } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import type { IncomingMessage } from 'node:http';
import { LoggerModule } from 'nestjs-pino';

const QUIET_PATHS = /^\/(health|ready|metrics)(\?|$)/;

/**
 * JSON lines with app, instance and version on every line, the request id
 * (Fastify's, from `X-Request-Id` when the caller sent one), the tenant once authenticated,
 * credentials redacted, and no line for health, readiness or metrics probes.
 */
export const PlatformLoggerModule = LoggerModule.forRootAsync({
  inject: [ConfigService],
  useFactory: (config: PlatformConfigService) => {
    const app = config.get('app', { infer: true });
    return {
      assignResponse: true,
      // The default route pattern of nestjs-pino matches nothing on Fastify with Nest 12.
      forRoutes: [{ path: '*path', method: RequestMethod.ALL }],
      pinoHttp: {
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
        // Nest's Fastify middleware rewrites req.url; originalUrl keeps the path.
        autoLogging: {
          ignore: (req: IncomingMessage & { originalUrl?: string }) =>
            QUIET_PATHS.test(req.originalUrl ?? req.url ?? ''),
        },
        customLogLevel: (_req: IncomingMessage, res: { statusCode: number }, error?: Error) =>
          error !== undefined || res.statusCode >= 500
            ? 'error'
            : res.statusCode >= 400
              ? 'warn'
              : 'info',
        serializers: {
          req: (req: { id: unknown; method: string; url: string }) => ({
            id: req.id,
            method: req.method,
            url: req.url,
          }),
        },
      },
    };
  },
});
