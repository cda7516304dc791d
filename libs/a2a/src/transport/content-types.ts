import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { jsonHasNul, nulInBodyError } from '@app/platform';
import type { FastifyInstance, FastifyRequest } from 'fastify';

export const A2A_JSON_CONTENT_TYPE = 'application/a2a+json';
const JSON_CONTENT_TYPE = 'application/json';

/**
 * JSON parsing for the A2A bindings:
 * - `application/a2a+json` (the HTTP+JSON media type) is parsed like `application/json`;
 * - an empty body is no body: the SDK's REST client sends `Content-Type:
 *   application/json` with nothing after it on `:cancel`, `:subscribe` and
 *   DELETE, which Fastify would refuse with 400.
 * Non-empty bodies still go through Fastify's own parser (with its
 * prototype-poisoning protection), after the platform's NUL check.
 */
@Injectable()
export class A2aContentTypes implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify === undefined || fastify.hasContentTypeParser(A2A_JSON_CONTENT_TYPE)) return;
    const parseJson = fastify.getDefaultJsonParser('error', 'error');
    const parser = (
      request: FastifyRequest,
      body: string | Buffer,
      done: (error: Error | null, value?: unknown) => void,
    ) => {
      if (body.length === 0) {
        done(null, undefined);
        return;
      }
      const text = typeof body === 'string' ? body : body.toString('utf8');
      if (jsonHasNul(text)) {
        done(nulInBodyError());
        return;
      }
      void parseJson(request, text, done);
    };
    fastify.removeContentTypeParser(JSON_CONTENT_TYPE);
    fastify.addContentTypeParser(JSON_CONTENT_TYPE, { parseAs: 'string' }, parser);
    fastify.addContentTypeParser(A2A_JSON_CONTENT_TYPE, { parseAs: 'string' }, parser);
  }
}
