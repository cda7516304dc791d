import type { PlatformConfigService } from '@app/config';
import { Global, Module } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { PrometheusModule } from '@willsoto/nestjs-prometheus';
import { HttpMetricsRecorder } from './http-metrics.recorder.js';
import { METRIC_PROVIDERS } from './metric-definitions.js';
import { MetricsController } from './metrics.controller.js';

/** `GET /metrics` with Node defaults, `app` and `instance` labels and the platform's metrics. */
@Global()
@Module({
  imports: [
    PrometheusModule.registerAsync({
      controller: MetricsController,
      inject: [ConfigService],
      useFactory: (config: PlatformConfigService) => {
        const app = config.get('app', { infer: true });
        return {
          path: '/metrics',
          defaultMetrics: { enabled: true },
          defaultLabels: { app: app.name, instance: app.instanceId },
        };
      },
    }),
  ],
  providers: [...METRIC_PROVIDERS, HttpMetricsRecorder],
  exports: [...METRIC_PROVIDERS],
})
export class MetricsModule {}
