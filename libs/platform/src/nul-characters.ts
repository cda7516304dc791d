import { BadRequestException, Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';

/** A JSON text with a NUL character in a string (`\u0000`, not preceded by an escaping backslash). */
const JSON_NUL = /(?:^|[^\\])(?:\\\\)*\\u0000/;

/** Whether a JSON text holds a NUL character, which PostgreSQL can store in neither text nor jsonb. */
export function jsonHasNul(text: string): boolean {
  return text.includes('\\u0000') && JSON_NUL.test(text);
}

/**
 * Refuses, with 400, a request whose path or query holds a NUL character
 * (`%00`): no identifier of the platform can contain one, and PostgreSQL
 * would reject it as a parameter.
 */
export function refuseNulInUrls(fastify: FastifyInstance): void {
  fastify.addHook('onRequest', (request, _reply, done) => {
    if (request.raw.url?.includes('%00')) {
      done(new BadRequestException('The URL holds a NUL character (%00)'));
      return;
    }
    done();
  });
}

/** The error a JSON parser answers for a body holding a NUL character (400 in every error shape). */
export function nulInBodyError(): BadRequestException {
  return new BadRequestException('JSON strings may not contain NUL characters (\\u0000)');
}

/**
 * The platform's JSON body parser: Fastify's own (with its prototype-poisoning
 * protection) behind the NUL check. Apps serving A2A install their own
 * parser with the same check (A2aContentTypes) and this one steps aside.
 */
@Injectable()
export class NulCheckingJsonParser implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify === undefined || fastify.hasContentTypeParser('application/a2a+json')) return;
    const parseJson = fastify.getDefaultJsonParser('error', 'error');
    fastify.removeContentTypeParser('application/json');
    fastify.addContentTypeParser(
      'application/json',
      { parseAs: 'string' },
      (request, body, done) => {
        const text = typeof body === 'string' ? body : body.toString('utf8');
        if (jsonHasNul(text)) {
          done(nulInBodyError());
          return;
        }
        void parseJson(request, text, done);
      },
    );
  }
}
