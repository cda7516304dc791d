import type { PlatformConfig } from '@app/config';
import { DatabaseLifecycle } from '@app/persistence';
import { createPlatformApp } from '@app/platform';
import type { DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';

export interface TestApp {
  readonly app: NestFastifyApplication;
  readonly url: string;
  close(): Promise<void>;
}

/** Boots an app module in this process exactly as `main.ts` does, on the configured port (0: a random one). */
export async function startTestApp(
  module: DynamicModule,
  config: PlatformConfig,
  options: { waitForDatabase?: boolean; configure?: (app: NestFastifyApplication) => void } = {},
): Promise<TestApp> {
  const app = await createPlatformApp(module, config);
  options.configure?.(app);
  await app.listen({ port: config.app.port, host: '127.0.0.1' });
  if (options.waitForDatabase ?? true) await app.get(DatabaseLifecycle).whenReady();
  const address = app.getHttpServer().address();
  if (address === null || typeof address === 'string')
    throw new Error('The app is not listening on TCP');
  return { app, url: `http://127.0.0.1:${address.port}`, close: () => app.close() };
}
