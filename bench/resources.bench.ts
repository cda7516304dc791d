import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { benchSql } from './lib/database.js';
import { load } from './lib/load.js';
import { startNode, type Started } from './lib/processes.js';
import { rssMiB, sampleRss } from './lib/rss.js';

/**
 * Memory and endurance: each app's RSS idle and under load, then a soak of
 * the A2A Message path at 80 % of the peak measured here (SOAK_SECONDS,
 * 300 by default) with its errors and the agent app's RSS over time.
 */
const LOAD_SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const SOAK_SECONDS = Number(process.env.SOAK_SECONDS ?? 300);
const KEY = 'bench-local-key-0123456789';
const PORTS = { registry: 9231, agent: 9232, orchestrator: 9233 };
const HEAP_MIB = Number(process.env.BENCH_HEAP_MIB ?? 256);

const message = () =>
  JSON.stringify({
    jsonrpc: '2.0',
    id: 1,
    method: 'SendMessage',
    params: {
      message: { messageId: randomUUID(), role: 'ROLE_USER', parts: [{ text: 'soak' }] },
    },
  });

async function main(): Promise<void> {
  const env = {
    NODE_ENV: 'production',
    BOOTSTRAP_API_KEY: KEY,
    DATABASE_NAME: process.env.BENCH_DATABASE_NAME ?? 'a2a_bench',
    REDIS_KEY_PREFIX: 'a2a-bench-resources',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    AGENTS: 'echo,math',
    THROTTLE_DEFAULT_LIMIT: '1000000000',
    THROTTLE_MESSAGE_LIMIT: '1000000000',
    REGISTRY_ALLOW_PRIVATE_URLS: 'true',
    // A bounded heap, as a container with a memory limit needs: without one, V8 postpones
    // major collections and RSS follows the garbage rather than the live heap.
    NODE_OPTIONS: `--max-old-space-size=${HEAP_MIB}`,
  };
  execFileSync(process.execPath, ['dist/libs/persistence/src/cli/migrate.js', 'run'], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  await benchSql(env.DATABASE_NAME, 'TRUNCATE a2a_tasks, a2a_push_configs, a2a_task_events');
  const apps: Record<keyof typeof PORTS, Started> = {
    registry: await startNode(
      'dist/apps/registry/src/main.js',
      { ...env, PORT: String(PORTS.registry) },
      `http://127.0.0.1:${PORTS.registry}/ready`,
    ),
    agent: await startNode(
      'dist/apps/agent/src/main.js',
      { ...env, PORT: String(PORTS.agent), REGISTRY_URL: `http://127.0.0.1:${PORTS.registry}` },
      `http://127.0.0.1:${PORTS.agent}/ready`,
    ),
    orchestrator: await startNode(
      'dist/apps/orchestrator/src/main.js',
      {
        ...env,
        PORT: String(PORTS.orchestrator),
        REGISTRY_URL: `http://127.0.0.1:${PORTS.registry}`,
      },
      `http://127.0.0.1:${PORTS.orchestrator}/ready`,
    ),
  };
  const headers = { 'x-api-key': KEY, 'a2a-version': '1.0' };
  const targets: Record<keyof typeof PORTS, Parameters<typeof load>[0]> = {
    agent: {
      url: `http://127.0.0.1:${PORTS.agent}/agents/echo/a2a/jsonrpc`,
      body: message(),
      headers,
      connections: 50,
      seconds: LOAD_SECONDS,
    },
    registry: {
      url: `http://127.0.0.1:${PORTS.registry}/agents?skill=evaluate`,
      method: 'GET',
      headers,
      connections: 50,
      seconds: LOAD_SECONDS,
    },
    orchestrator: {
      url: `http://127.0.0.1:${PORTS.orchestrator}/runs?pageSize=20`,
      method: 'GET',
      headers,
      connections: 50,
      seconds: LOAD_SECONDS,
    },
  };
  const rows: string[] = [];
  let peak = 0;
  try {
    await sleep(5_000);
    for (const name of ['registry', 'agent', 'orchestrator'] as const) {
      const idle = rssMiB(apps[name].child.pid);
      const sampler = sampleRss(apps[name].child.pid, 250);
      const result = await load(targets[name]);
      const loaded = Math.max(...sampler.stop(), idle);
      if (name === 'agent') peak = result.rps;
      rows.push(
        `| ${name} | ${idle.toFixed(0)} | ${loaded.toFixed(0)} | ${targets[name].method ?? 'POST'} ${new URL(targets[name].url).pathname} | ${result.rps.toFixed(0)} | ${result.errors + result.non2xx} |`,
      );
      console.error(`done: ${name} idle / loaded`);
    }

    // Soak: 80 % of the peak, RSS sampled every 5 s.
    const rate = Math.max(1, Math.round(peak * 0.8));
    const sampler = sampleRss(apps.agent.child.pid, 5_000);
    const soak = await load({ ...targets.agent, seconds: SOAK_SECONDS, rate });
    const samples = sampler.stop();
    const warm = samples[Math.min(samples.length - 1, 12)] ?? 0;
    const last = samples.at(-1) ?? 0;
    const growth = warm > 0 ? ((last - warm) / warm) * 100 : 0;
    console.error('done: soak');
    console.log(`## Memory and endurance

RSS in MiB of each app idle (5 s after start) and the highest seen while ${LOAD_SECONDS} s of load at 50 connections ran against one of its endpoints. The apps run with \`--max-old-space-size=${HEAP_MIB}\` (a bounded heap, as in a container with a memory limit).

| app | idle RSS | loaded RSS | endpoint under load | RPS | errors |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Soak: ${SOAK_SECONDS} s of A2A SendMessage to the agent app at ${rate} requests/s (80 % of the ${peak.toFixed(0)} RPS measured above), 50 connections.

| requests | errors | non-2xx | p50 / p99 ms | agent RSS after 1 min | agent RSS at the end | growth |
| --- | --- | --- | --- | --- | --- | --- |
| ${soak.requests} | ${soak.errors} | ${soak.non2xx} | ${soak.p50} / ${soak.p99} | ${warm.toFixed(0)} | ${last.toFixed(0)} | ${growth.toFixed(1)} % |

Targets: 0 errors during the soak; RSS flat (growth after the first minute within 10 %).`);
  } finally {
    await Promise.all(Object.values(apps).map((app) => app.stop()));
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
