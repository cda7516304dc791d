import {
  EnvironmentError,
  loadPlatformConfig,
  type AppName,
  type PlatformConfig,
} from '@app/config';
import { LifecycleState } from '@app/health';
import { Logger, type DynamicModule } from '@nestjs/common';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { createPlatformApp } from './create-app.js';

/** sysexits' EX_CONFIG: the process was started with a configuration it cannot use. */
export const EXIT_CONFIG_ERROR = 78;

/**
 * The whole of an app's `main.ts`: validate the environment (a bad variable
 * exits with its name), build the app, listen, and drain on SIGTERM / SIGINT.
 */
export async function bootstrap(
  name: AppName,
  rootModule: (config: PlatformConfig) => DynamicModule,
  /** App-specific set-up of the built app before it listens (e.g. the registry's OpenAPI document). */
  configure?: (app: NestFastifyApplication, config: PlatformConfig) => void,
): Promise<void> {
  let config: PlatformConfig;
  try {
    config = loadPlatformConfig(name);
  } catch (error) {
    if (!(error instanceof EnvironmentError)) throw error;
    process.stderr.write(`${name}: ${error.message}\n`);
    process.exit(EXIT_CONFIG_ERROR);
  }

  let module: DynamicModule;
  try {
    module = rootModule(config);
  } catch (error) {
    // The app's own start-up checks of its configuration (e.g. unknown agent names).
    process.stderr.write(`${name}: ${(error as Error).message}\n`);
    process.exit(EXIT_CONFIG_ERROR);
  }
  const app = await createPlatformApp(module, config);
  configure?.(app, config);
  installGracefulShutdown(app, config);
  await app.listen({ port: config.app.port, host: config.app.host });
  new Logger('Bootstrap').log(`${name} listening on ${await app.getUrl()}`);
}

/**
 * SIGTERM: `/ready` turns 503 at once, the app keeps serving for
 * `SHUTDOWN_DELAY_MS` so load balancers notice, then stops accepting, drains
 * in-flight requests and jobs, closes its connections and exits 0. If draining
 * takes longer than `SHUTDOWN_TIMEOUT_MS` it exits 1.
 */
function installGracefulShutdown(app: NestFastifyApplication, config: PlatformConfig): void {
  const logger = new Logger('Shutdown');
  let stopping = false;
  const stop = async (signal: NodeJS.Signals): Promise<void> => {
    if (stopping) return;
    stopping = true;
    app.get(LifecycleState).beginShutdown();
    logger.log(`${signal} received, draining`);
    const deadline = setTimeout(() => {
      logger.error(`Drain took longer than ${config.app.shutdownTimeoutMs} ms, exiting`);
      process.exit(1);
    }, config.app.shutdownTimeoutMs);
    deadline.unref();
    if (config.app.shutdownDelayMs > 0) await sleep(config.app.shutdownDelayMs);
    await app.close();
    logger.log('Drained, bye');
    process.exit(0);
  };
  for (const signal of ['SIGTERM', 'SIGINT'] as const) {
    process.once(signal, (received) => {
      stop(received).catch((error: unknown) => {
        logger.error(`Shutdown failed: ${String(error)}`);
        process.exit(1);
      });
    });
  }
}
