import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { DocumentBuilder, SwaggerModule } from '@nestjs/swagger';

/** Serves the registry API's OpenAPI document at `/openapi.json` (public, like the agent cards). */
export function setupRegistryOpenApi(app: NestFastifyApplication, version: string): void {
  const document = SwaggerModule.createDocument(
    app,
    new DocumentBuilder()
      .setTitle('A2A Platform registry')
      .setDescription(
        'Agent Card registry: register agent instances by card URL or card, heartbeat, deregister, ' +
          'and discover healthy agents by skill, tag, media mode or text.',
      )
      .setVersion(version)
      .addBearerAuth({ type: 'http', scheme: 'bearer', description: 'Platform API key' })
      .addApiKey({ type: 'apiKey', in: 'header', name: 'X-API-Key' }, 'apiKey')
      .addSecurityRequirements('bearer')
      .build(),
  );
  SwaggerModule.setup('openapi', app, document, {
    ui: false,
    jsonDocumentUrl: 'openapi.json',
    raw: ['json'],
  });
}
