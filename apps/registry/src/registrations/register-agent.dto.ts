import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsBoolean, IsObject, IsOptional, IsUrl } from 'class-validator';

/** `POST /agents`: the instance's card URL, and optionally the card itself. */
export class RegisterAgentDto {
  /** Where the instance serves its card; the registry fetches and probes it there. */
  @ApiProperty({ example: 'http://agent:8000/agents/math/.well-known/agent-card.json' })
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  cardUrl!: string;

  /** The card, for an agent that posts it (still served at `cardUrl` for probes). */
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'A2A v1.0 (or v0.3) Agent Card',
  })
  @IsOptional()
  @IsObject()
  card?: Record<string, unknown>;

  /** Publish to every tenant; needs an admin key. */
  @ApiPropertyOptional({ default: false })
  @IsOptional()
  @IsBoolean()
  shared?: boolean;
}
