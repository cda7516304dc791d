import { Module, type DynamicModule } from '@nestjs/common';
import { ConfigModule, ConfigService } from '@nestjs/config';
import type { PlatformConfig } from './platform-config.js';

/** Typed access to the validated configuration: `config.get('database', { infer: true })`. */
export type PlatformConfigService = ConfigService<PlatformConfig, true>;

/**
 * Makes an already validated {@link PlatformConfig} available everywhere. The
 * configuration is loaded once in `main.ts` (or by a test), before any module is
 * built, so that a bad variable stops the process before anything connects.
 */
@Module({})
export class PlatformConfigModule {
  static forRoot(config: PlatformConfig): DynamicModule {
    return {
      module: PlatformConfigModule,
      global: true,
      imports: [
        ConfigModule.forRoot({
          ignoreEnvFile: true,
          cache: true,
          load: [() => ({ ...config })],
        }),
      ],
      exports: [ConfigModule],
    };
  }
}
