import { IsBoolean, IsObject, IsOptional, IsUrl } from 'class-validator';

/** `POST /agents`: the instance's card URL, and optionally the card itself. */
export class RegisterAgentDto {
  /** Where the instance serves its card; the registry fetches and probes it there. */
  @IsUrl({ protocols: ['http', 'https'], require_tld: false, require_protocol: true })
  cardUrl!: string;

  /** The card, for an agent that posts it (still served at `cardUrl` for probes). */
  @IsOptional()
  @IsObject()
  card?: Record<string, unknown>;

  /** Publish to every tenant; needs an admin key. */
  @IsOptional()
  @IsBoolean()
  shared?: boolean;
}
