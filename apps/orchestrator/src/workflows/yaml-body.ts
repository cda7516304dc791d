import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import type { FastifyInstance } from 'fastify';
import { parse } from 'yaml';

const YAML_TYPES = ['application/yaml', 'application/x-yaml', 'text/yaml'];

/** Lets clients send workflow definitions as YAML; a document that does not parse is a 400. */
@Injectable()
export class YamlBodyParser implements OnModuleInit {
  constructor(private readonly adapterHost: HttpAdapterHost) {}

  onModuleInit(): void {
    const fastify = this.adapterHost.httpAdapter?.getInstance<FastifyInstance>();
    if (fastify === undefined || fastify.hasContentTypeParser(YAML_TYPES[0])) return;
    fastify.addContentTypeParser(YAML_TYPES, { parseAs: 'string' }, (_request, body, done) => {
      try {
        done(null, parse(body as string, { maxAliasCount: 50 }) as unknown);
      } catch (error) {
        done(
          Object.assign(new Error(`The body is not valid YAML: ${(error as Error).message}`), {
            statusCode: 400,
          }),
          undefined,
        );
      }
    });
  }
}
