import { execFile } from 'node:child_process';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';

export interface LoadResult {
  readonly rps: number;
  readonly p50: number;
  readonly p99: number;
  readonly requests: number;
  readonly errors: number;
  readonly non2xx: number;
}

/** What autocannon's `--json` output holds of interest here. */
interface AutocannonJson {
  requests: { average: number; total: number };
  latency: { p50: number; p99: number };
  errors: number;
  timeouts: number;
  non2xx: number;
}

const AUTOCANNON = join(
  dirname(createRequire(import.meta.url).resolve('autocannon/package.json')),
  'autocannon.js',
);

/**
 * Drives `connections` concurrent keep-alive connections at one endpoint for
 * `seconds`. The load generator runs in a process of its own (autocannon's
 * CLI), so that the benchmark's own heap and timers never delay the requests
 * it measures.
 */
export async function load(options: {
  url: string;
  method?: 'GET' | 'POST';
  body?: string;
  headers: Record<string, string>;
  connections: number;
  seconds: number;
  /** Requests per second across all connections (a fixed rate instead of as fast as possible). */
  rate?: number;
}): Promise<LoadResult> {
  const headers = {
    ...(options.body !== undefined ? { 'content-type': 'application/json' } : {}),
    ...options.headers,
  };
  const args = [
    AUTOCANNON,
    '--json',
    '--connections',
    String(options.connections),
    '--duration',
    String(options.seconds),
    '--pipelining',
    '1',
    '--method',
    options.method ?? 'POST',
    ...Object.entries(headers).flatMap(([name, value]) => ['--headers', `${name}=${value}`]),
    ...(options.body !== undefined ? ['--body', options.body] : []),
    ...(options.rate !== undefined ? ['--overallRate', String(options.rate)] : []),
    options.url,
  ];
  const output = await new Promise<string>((resolve, reject) => {
    execFile(
      process.execPath,
      args,
      { maxBuffer: 64 * 1024 * 1024, timeout: (options.seconds + 60) * 1000 },
      (error, stdout) =>
        error ? reject(new Error(`autocannon: ${error.message}`)) : resolve(stdout),
    );
  });
  const result = JSON.parse(output) as AutocannonJson;
  return {
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    requests: result.requests.total,
    errors: result.errors + result.timeouts,
    non2xx: result.non2xx,
  };
}
