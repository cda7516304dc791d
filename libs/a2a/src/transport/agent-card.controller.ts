import type { PlatformConfigService } from '@app/config';
import { Public } from '@app/security';
import { Controller, Get, Inject, Req, Res } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { SkipThrottle } from '@nestjs/throttler';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { AgentResolver } from './agent-resolver.js';

/** `GET /.well-known/agent-card.json`: the public card in wire form, cacheable and revalidatable. */
@Public()
@SkipThrottle()
@Controller()
export class AgentCardController {
  constructor(
    private readonly agents: AgentResolver,
    @Inject(ConfigService) private readonly config: PlatformConfigService,
  ) {}

  @Get('.well-known/agent-card.json')
  async card(@Req() request: FastifyRequest, @Res() reply: FastifyReply): Promise<void> {
    const { agent, baseUrl } = this.agents.resolve(request);
    const card = await agent.servedCard(baseUrl);
    const maxAge = this.config.get('a2a', { infer: true }).cardMaxAgeSeconds;
    void reply
      .header('ETag', card.etag)
      .header('Cache-Control', `public, max-age=${maxAge}, must-revalidate`)
      .header('Vary', 'Host, X-Forwarded-Host, X-Forwarded-Proto');
    const ifNoneMatch = request.headers['if-none-match'];
    if (
      typeof ifNoneMatch === 'string' &&
      ifNoneMatch.split(/\s*,\s*/).some((tag) => tag === card.etag || tag === '*')
    ) {
      void reply.status(304).send();
      return;
    }
    void reply.header('Content-Type', 'application/json; charset=utf-8').send(card.body);
  }
}
