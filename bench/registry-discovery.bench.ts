import { execFileSync } from 'node:child_process';
import { cpus } from 'node:os';
import { benchSql } from './lib/database.js';
import { load } from './lib/load.js';
import { startNode } from './lib/processes.js';

/**
 * Registry discovery benchmark: 1,000 registered agents, discovery by skill
 * at 100 connections (answers from the Redis cache, as in production), and
 * the same lookups with the cache off to show what PostgreSQL alone gives.
 */
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const AGENTS = 1_000;
const KEY = 'bench-local-key-0123456789';
const PORTS = { cached: 9211, uncached: 9212 };

function card(index: number) {
  const skill = `skill-${index % 50}`;
  return {
    name: `Bench agent ${index}`,
    description: `Benchmark agent number ${index}`,
    version: '1.0.0',
    supportedInterfaces: [
      {
        url: `http://agents.example.com/${index}/a2a/jsonrpc`,
        protocolBinding: 'JSONRPC',
        protocolVersion: '1.0',
      },
    ],
    capabilities: {},
    defaultInputModes: ['text/plain'],
    defaultOutputModes: ['text/plain'],
    skills: [{ id: skill, name: skill, description: `does ${skill}`, tags: [`tag-${index % 10}`] }],
  };
}

async function main(): Promise<void> {
  const env = {
    NODE_ENV: 'production',
    BOOTSTRAP_API_KEY: KEY,
    DATABASE_NAME: process.env.BENCH_DATABASE_NAME ?? 'a2a_bench',
    LOG_LEVEL: 'warn',
    HOST: '127.0.0.1',
    THROTTLE_DEFAULT_LIMIT: '1000000000',
    THROTTLE_MESSAGE_LIMIT: '1000000000',
    // Registrations are posted with their cards; heartbeats and probes (worker processes in
    // production) are not part of this measurement: the fake instance URLs would fail them.
    WORKER_MODE: 'http',
    REGISTRY_HEARTBEAT_TTL_SECONDS: '3600',
    REGISTRY_REMOVE_AFTER_SECONDS: '7200',
    REGISTRY_PROBE_INTERVAL_SECONDS: '3600',
    REGISTRY_ALLOW_PRIVATE_URLS: 'true',
  };
  execFileSync(process.execPath, ['dist/libs/persistence/src/cli/migrate.js', 'run'], {
    env: { ...process.env, ...env },
    stdio: 'ignore',
  });
  await benchSql(env.DATABASE_NAME, 'DELETE FROM agent_registrations');

  const cached = await startNode(
    'dist/apps/registry/src/main.js',
    {
      ...env,
      PORT: String(PORTS.cached),
      REDIS_KEY_PREFIX: 'a2a-bench-registry',
      REGISTRY_CACHE_TTL_SECONDS: '5',
    },
    `http://127.0.0.1:${PORTS.cached}/ready`,
  );
  const uncached = await startNode(
    'dist/apps/registry/src/main.js',
    {
      ...env,
      PORT: String(PORTS.uncached),
      REDIS_KEY_PREFIX: 'a2a-bench-registry-nocache',
      REGISTRY_CACHE_TTL_SECONDS: '0',
    },
    `http://127.0.0.1:${PORTS.uncached}/ready`,
  );
  const headers = { authorization: `Bearer ${KEY}` };
  try {
    for (let index = 0; index < AGENTS; index++) {
      const response = await fetch(`http://127.0.0.1:${PORTS.cached}/agents`, {
        method: 'POST',
        headers: { ...headers, 'content-type': 'application/json' },
        body: JSON.stringify({
          cardUrl: `http://agents.example.com/${index}/.well-known/agent-card.json`,
          card: card(index),
        }),
      });
      if (response.status !== 201 && response.status !== 200)
        throw new Error(`registration ${index}: HTTP ${response.status}`);
    }
    const rows: string[] = [];
    for (const [name, port] of Object.entries(PORTS)) {
      const url = `http://127.0.0.1:${port}/agents?skill=skill-7&pageSize=20`;
      await load({
        url,
        method: 'GET',
        headers,
        connections: 100,
        seconds: Math.max(2, Math.round(SECONDS / 3)),
      });
      const result = await load({
        url,
        method: 'GET',
        headers,
        connections: 100,
        seconds: SECONDS,
      });
      rows.push(
        `| ${name} | 100 | ${result.rps.toFixed(0)} | ${result.p50} | ${result.p99} | ${result.errors + result.non2xx} |`,
      );
      console.error(`done: discovery ${name}`);
    }
    const cpu = cpus();
    console.log(`## Registry discovery by skill, ${AGENTS} registered agents

Machine: ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, Node ${process.version}. ${SECONDS} s per measurement; load generator (autocannon) on the same machine. Each answer holds the 20 agents with the skill (summary view: name, description, skills) and their instances.

| discovery | connections | lookups/s | p50 ms | p99 ms | errors |
| --- | --- | --- | --- | --- | --- |
${rows.join('\n')}

Target: >= 15,000 lookups/s and p99 <= 10 ms at 100 connections.`);
  } finally {
    await Promise.all([cached.stop(), uncached.stop()]);
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exitCode = 1;
});
