import type { AppName } from '@app/config';
import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { waitFor } from './wait-for.js';

export interface SpawnedApp {
  readonly url: string;
  readonly port: number;
  readonly child: ChildProcess;
  /** Everything the process wrote so far (stdout and stderr). */
  output(): string;
  /** Resolves with the exit code and signal once the process has ended. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Sends the signal (SIGTERM by default) and waits for the exit. */
  stop(signal?: NodeJS.Signals): Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts an app from the built output as its own process, the way it runs in
 * production, with the run's database and Redis prefix plus `env`.
 */
export async function spawnApp(
  app: AppName,
  env: Record<string, string> = {},
  options: { waitUntil?: 'listening' | 'ready' | 'nothing' } = {},
): Promise<SpawnedApp> {
  // A test may pin the port (to restart an app where it was); a non-numeric PORT is passed through as is.
  const port = /^\d+$/.test(env.PORT ?? '') ? Number(env.PORT) : await freePort();
  const child = spawn(process.execPath, [`dist/apps/${app}/src/main.js`], {
    env: { ...process.env, HOST: '127.0.0.1', LOG_LEVEL: 'info', PORT: String(port), ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
  // TEST_APP_LOG_DIR keeps every spawned app's output in a file, for investigating a failure.
  const logDir = process.env.TEST_APP_LOG_DIR;
  if (logDir) {
    const file = createWriteStream(join(logDir, `${app}-${port}-${child.pid}.log`));
    child.stdout?.pipe(file);
    child.stderr?.pipe(file);
  }
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('exit', (code, signal) => resolve({ code, signal }));
  });
  const url = `http://127.0.0.1:${port}`;
  const spawned: SpawnedApp = {
    url,
    port,
    child,
    output: () => output,
    exited,
    stop: async (signal = 'SIGTERM') => {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
  const waitUntil = options.waitUntil ?? 'ready';
  if (waitUntil !== 'nothing') {
    const path = waitUntil === 'ready' ? '/ready' : '/health';
    let ended = false;
    void exited.then(() => (ended = true));
    await waitFor(
      async () => {
        if (ended) throw new Error(`${app} exited during start-up:\n${output}`);
        const response = await fetch(`${url}${path}`).catch(() => undefined);
        return response?.status === 200;
      },
      { timeoutMs: 30_000, what: `${app} ${path}` },
    ).catch((error: unknown) => {
      child.kill('SIGKILL');
      throw new Error(`${(error as Error).message}; its output:\n${output.slice(-3_000)}`);
    });
  }
  return spawned;
}
