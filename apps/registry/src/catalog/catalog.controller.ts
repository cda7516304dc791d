import { Public } from '@app/security';
import { Controller, Get, Header } from '@nestjs/common';
import { DataSource } from 'typeorm';

/**
 * `/.well-known/ai-catalog.json`: the shared, healthy agents' cards, for
 * clients that discover by convention rather than through the registry API.
 */
@Public()
@Controller()
export class CatalogController {
  constructor(private readonly dataSource: DataSource) {}

  @Get('.well-known/ai-catalog.json')
  @Header('Cache-Control', 'public, max-age=30')
  async catalog(): Promise<{
    version: string;
    agents: Array<{ name: string; cardUrl: string; card: unknown }>;
  }> {
    const rows = await this.dataSource.query<
      Array<{ agent_name: string; card_url: string; card: unknown }>
    >(
      `SELECT DISTINCT ON (agent_name) agent_name, card_url, card FROM agent_registrations
       WHERE shared AND status = 'healthy' ORDER BY agent_name, latency_ms ASC NULLS LAST LIMIT 1000`,
    );
    return {
      version: '1.0',
      agents: rows.map((row) => ({ name: row.agent_name, cardUrl: row.card_url, card: row.card })),
    };
  }
}
