import { Injectable, type OnModuleInit } from '@nestjs/common';
import { HttpAdapterHost } from '@nestjs/core';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Counter, Histogram } from 'prom-client';
import { A2A_ROUTE_CONFIG } from './a2a-route.decorator.js';
import { MetricName } from './metric-names.js';

/** What A2A handlers may set on the request to refine their metrics. */
export interface A2aMetricsRequest {
  a2aMethod?: string;
  a2aStatus?: string;
}

const UNMEASURED_ROUTES = new Set(['/metrics', '/health', '/ready']);

/**
 * Records request metrics from Fastify's `onResponse` hook rather than a Nest
 * interceptor: the hook also sees responses that never reach a handler
 * (401 from the auth guard, 429 from the throttler, 404, body too large).
 */
@Injectable()
export class HttpMetricsRecorder implements OnModuleInit {
  constructor(
    private readonly adapterHost: HttpAdapterHost,
    @InjectMetric(MetricName.A2aMessages)
    private readonly a2aMessages: Counter<'method' | 'status'>,
    @InjectMetric(MetricName.A2aResponseTime) private readonly a2aResponseTime: Histogram<'method'>,
    @InjectMetric(MetricName.HttpRequests)
    private readonly httpRequests: Counter<'method' | 'route' | 'status_code'>,
    @InjectMetric(MetricName.HttpRequestDuration)
    private readonly httpDuration: Histogram<'method' | 'route'>,
  ) {}

  onModuleInit(): void {
    const adapter = this.adapterHost.httpAdapter as { getInstance(): unknown } | undefined;
    const fastify = adapter?.getInstance() as FastifyInstance | undefined;
    if (fastify === undefined || typeof fastify.addHook !== 'function') return;
    // A callback hook: an async one costs Fastify a promise and its settling on every response.
    fastify.addHook('onResponse', (request, reply, done) => {
      try {
        this.record(request, reply);
      } catch (error) {
        done(error as Error);
        return;
      }
      done();
    });
  }

  private record(request: FastifyRequest, reply: FastifyReply): void {
    const route = request.routeOptions.url ?? 'unmatched';
    if (UNMEASURED_ROUTES.has(route)) return;
    const seconds = reply.elapsedTime / 1000;
    const statusCode = reply.statusCode;
    this.httpRequests.inc({ method: request.method, route, status_code: String(statusCode) });
    this.httpDuration.observe({ method: request.method, route }, seconds);

    const routeMethod = (
      request.routeOptions.config as unknown as Record<string, unknown> | undefined
    )?.[A2A_ROUTE_CONFIG];
    if (typeof routeMethod !== 'string') return;
    const a2a = request as FastifyRequest & A2aMetricsRequest;
    const method = a2a.a2aMethod ?? routeMethod;
    this.a2aMessages.inc({ method, status: a2a.a2aStatus ?? outcomeOf(statusCode) });
    this.a2aResponseTime.observe({ method }, seconds);
  }
}

function outcomeOf(statusCode: number): string {
  if (statusCode < 400) return 'ok';
  if (statusCode === 401 || statusCode === 403) return 'unauthorized';
  if (statusCode === 429) return 'throttled';
  return statusCode < 500 ? 'invalid' : 'error';
}
