import type { PlatformConfig } from '@app/config';
import type { DynamicModule } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import { randomUUID } from 'node:crypto';
import { createPlatformLogger, logRequests, PlatformLogger } from './logging.js';
import { refuseNulInUrls } from './nul-characters.js';

/**
 * Builds an app on Fastify with the platform's request limits. Errors Fastify
 * raises before a handler runs (unparsable or oversized bodies) reach Nest's
 * exception layer too, so they get the same problem shape as the rest.
 * `main.ts` and the tests both use it, so a test boots what production runs.
 */
export async function createPlatformApp(
  module: DynamicModule,
  config: PlatformConfig,
): Promise<NestFastifyApplication> {
  const adapter = new FastifyAdapter({
    bodyLimit: config.app.bodyLimitBytes,
    trustProxy: true,
    return503OnClosing: true,
    forceCloseConnections: 'idle',
    requestIdHeader: 'x-request-id',
    genReqId: () => randomUUID(),
  });
  const app = await NestFactory.create<NestFastifyApplication>(module, adapter, {
    bufferLogs: true,
    abortOnError: false,
  });
  const logger = createPlatformLogger(config.app);
  app.useLogger(new PlatformLogger(logger));
  const fastify = app.getHttpAdapter().getInstance();
  logRequests(fastify, logger);
  refuseNulInUrls(fastify);
  app.flushLogs();

  return app;
}
