import { TaskState } from '@a2a-js/sdk';
import {
  artifactsText,
  connectAgent,
  freePort,
  isTask,
  spawnApp,
  userMessage,
  waitFor,
  type SpawnedApp,
  useIsolatedDatabase,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parse, stringify } from 'yaml';
import { promqlExpressions, metricNames } from './monitoring-files.js';

/** Series Prometheus makes itself for every target; no app exports them. */
const PROMETHEUS_SERIES = new Set(['up']);

/** Names a /metrics page exports, with the series names histograms and summaries expand to. */
function exportedNames(exposition: string): Set<string> {
  const names = new Set<string>();
  for (const [, name, type] of exposition.matchAll(/^# TYPE (\S+) (\S+)$/gm)) {
    names.add(name);
    if (type === 'histogram')
      for (const suffix of ['_bucket', '_sum', '_count']) names.add(name + suffix);
    if (type === 'summary') for (const suffix of ['_sum', '_count']) names.add(name + suffix);
  }
  return names;
}

function sample(exposition: string, name: string, labels: Record<string, string> = {}): number[] {
  return exposition
    .split('\n')
    .filter((line) => line.startsWith(`${name}{`) || line.startsWith(`${name} `))
    .filter((line) =>
      Object.entries(labels).every(([key, value]) => line.includes(`${key}="${value}"`)),
    )
    .map((line) => Number(line.split(' ').at(-1)));
}

// Its apps act on every row they see (sweeps, probes, reconcilers): a database of its own.
useIsolatedDatabase('obs');

/**
 * The monitoring assets against the running platform: every metric the
 * dashboards and alerts read is exported, and a real Prometheus with
 * monitoring/prometheus.yml (pointed at local ports) scrapes the three apps.
 * The orchestrator is started through the image's entrypoint script.
 */
describe('observability of the running platform', () => {
  const TENANT = `obs-${randomUUID().slice(0, 8)}`;
  const KEY = `obs-key-${randomUUID()}`;
  const tenant = { BOOTSTRAP_TENANT: TENANT, BOOTSTRAP_API_KEY: KEY };
  const auth = { authorization: `Bearer ${KEY}` };
  let registry: SpawnedApp;
  let agents: SpawnedApp;
  let orchestrator: { url: string; port: number; child: ChildProcess; output: () => string };
  let prometheus: ChildProcess | undefined;
  let prometheusUrl: string;
  const workdir = mkdtempSync(join(tmpdir(), 'a2a-prometheus-'));

  beforeAll(async () => {
    const prefix = `${process.env.REDIS_KEY_PREFIX}-obs`;
    registry = await spawnApp('registry', { ...tenant, REDIS_KEY_PREFIX: `${prefix}-registry` });
    agents = await spawnApp('agent', {
      ...tenant,
      AGENTS: 'echo,math,language',
      REGISTRY_URL: registry.url,
      REDIS_KEY_PREFIX: `${prefix}-agents`,
    });

    const port = await freePort();
    let output = '';
    const child = spawn('sh', ['docker/entrypoint.sh'], {
      env: {
        ...process.env,
        ...tenant,
        APP: 'orchestrator',
        HOST: '127.0.0.1',
        PORT: String(port),
        REGISTRY_URL: registry.url,
        REDIS_KEY_PREFIX: `${prefix}-orchestrator`,
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    orchestrator = { url: `http://127.0.0.1:${port}`, port, child, output: () => output };
    await waitFor(
      async () => (await fetch(`${orchestrator.url}/ready`).catch(() => undefined))?.status === 200,
      { timeoutMs: 30_000, what: `the orchestrator started by the entrypoint (${output})` },
    );
    await waitFor(
      async () =>
        (await fetch(`${registry.url}/agents/resolve?skill=explain`, { headers: auth })).status ===
        200,
      { what: 'the agents to register', timeoutMs: 20_000 },
    );
  });

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    orchestrator?.child.kill('SIGTERM');
    await Promise.all([agents?.stop(), registry?.stop()]);
    if (orchestrator && orchestrator.child.exitCode === null)
      await new Promise((done) => orchestrator.child.once('exit', done));
    rmSync(workdir, { recursive: true, force: true });
  });

  it('the image health check passes against a ready app and fails against a closed port', async () => {
    const check = (port: number) =>
      spawnSync(process.execPath, ['docker/healthcheck.mjs'], {
        env: { ...process.env, APP: 'orchestrator', PORT: String(port) },
        encoding: 'utf8',
      }).status;
    expect(check(orchestrator.port)).toBe(0);
    expect(check(await freePort())).toBe(1);
  });

  it('exports every metric that the dashboards and alert rules read', async () => {
    // Traffic first, so that every labelled series exists: an A2A call, a workflow, a discovery.
    const client = await connectAgent(orchestrator.url, KEY);
    const result = await client.sendMessage({
      tenant: '',
      message: userMessage('Calculate 2+2 and explain in French'),
      configuration: undefined,
      metadata: undefined,
    });
    expect(isTask(result) && result.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(isTask(result) && artifactsText(result)).toContain('4');
    expect((await fetch(`${registry.url}/agents?skill=calculate`, { headers: auth })).status).toBe(
      200,
    );

    const pages = await Promise.all(
      [registry.url, agents.url, orchestrator.url].map(async (url) =>
        (await fetch(`${url}/metrics`)).text(),
      ),
    );
    const exported = new Set(pages.flatMap((page) => [...exportedNames(page)]));
    const missing = promqlExpressions().flatMap(({ where, expr }) =>
      metricNames(expr)
        .filter((name) => !exported.has(name) && !PROMETHEUS_SERIES.has(name))
        .map((name) => `${where}: ${name}`),
    );
    expect(missing).toEqual([]);

    // The gauges the new alerts rely on carry real values.
    const [registryPage, agentPage, orchestratorPage] = pages as [string, string, string];
    await waitFor(
      async () =>
        sample(await (await fetch(`${registry.url}/metrics`)).text(), 'a2a_app_ready')[0] === 1,
      { what: 'a2a_app_ready to read 1', timeoutMs: 10_000 },
    );
    await waitFor(
      async () =>
        (sample(
          await (await fetch(`${registry.url}/metrics`)).text(),
          'a2a_registry_healthy_instances',
          {
            tenant: TENANT,
            skill: 'calculate',
          },
        )[0] ?? 0) >= 1,
      { what: 'a healthy "calculate" instance in the registry metrics', timeoutMs: 10_000 },
    );
    expect(registryPage).toContain('a2a_agent_health{');
    expect(
      sample(orchestratorPage, 'a2a_agent_calls_total', {
        skill: 'calculate',
        outcome: 'completed',
      })[0],
    ).toBeGreaterThanOrEqual(1);
    expect(
      sample(agentPage, 'a2a_messages_total', { method: 'SendMessage', status: 'ok' })[0],
    ).toBeGreaterThanOrEqual(2);
  });

  it('a real Prometheus scrapes the three apps with monitoring/prometheus.yml and loads the alerts', async () => {
    const config = parse(readFileSync('monitoring/prometheus.yml', 'utf8')) as {
      global: Record<string, unknown>;
      rule_files: string[];
      scrape_configs: Array<Record<string, unknown> & { job_name: string }>;
    };
    // Adapted to this machine: static local targets instead of compose DNS, and a fast scrape.
    const ports: Record<string, number> = {
      'a2a-registry': registry.port,
      'a2a-agent': agents.port,
      'a2a-orchestrator': orchestrator.port,
    };
    config.global.scrape_interval = '1s';
    config.global.evaluation_interval = '1s';
    config.rule_files = config.rule_files.map((file) => resolve('monitoring', file));
    for (const job of config.scrape_configs) {
      expect(job.dns_sd_configs).toBeDefined();
      delete job.dns_sd_configs;
      job.static_configs = [{ targets: [`127.0.0.1:${ports[job.job_name]}`] }];
    }
    expect(Object.keys(ports).sort()).toEqual(
      config.scrape_configs.map((job) => job.job_name).sort(),
    );
    writeFileSync(join(workdir, 'prometheus.yml'), stringify(config));

    const port = await freePort();
    prometheusUrl = `http://127.0.0.1:${port}`;
    let log = '';
    prometheus = spawn(
      'prometheus',
      [
        `--config.file=${join(workdir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(workdir, 'data')}`,
        `--web.listen-address=127.0.0.1:${port}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    prometheus.stderr?.on('data', (chunk: Buffer) => (log += chunk.toString('utf8')));
    await waitFor(
      async () => (await fetch(`${prometheusUrl}/-/ready`).catch(() => undefined))?.status === 200,
      { what: `Prometheus to be ready (${log.slice(-500)})`, timeoutMs: 20_000 },
    );

    const client = await connectAgent(`${agents.url}/agents/echo`, KEY);
    await client.sendMessage({
      tenant: '',
      message: userMessage('hello prometheus'),
      configuration: undefined,
      metadata: undefined,
    });

    const query = async (promql: string) => {
      const response = await fetch(
        `${prometheusUrl}/api/v1/query?query=${encodeURIComponent(promql)}`,
      );
      const body = (await response.json()) as {
        data: { result: Array<{ metric: Record<string, string>; value: [number, string] }> };
      };
      return body.data.result;
    };
    // The agent and the orchestrator have both served SendMessage by now; the registry serves no A2A.
    const apps = async () =>
      (await query('sum by (app) (a2a_messages_total{method="SendMessage"})'))
        .map((series) => series.metric.app)
        .sort();
    await waitFor(async () => (await apps()).length === 2, {
      what: 'a2a_messages_total of the agent and the orchestrator in Prometheus',
      timeoutMs: 20_000,
    });
    expect(await apps()).toEqual(['agent', 'orchestrator']);

    await waitFor(async () => (await query('up == 1')).length === 3, {
      what: 'all three targets up',
      timeoutMs: 10_000,
    });
    const up = await query('up');
    expect(up.map((series) => series.metric.job).sort()).toEqual([
      'a2a-agent',
      'a2a-orchestrator',
      'a2a-registry',
    ]);
    const rules = (await (await fetch(`${prometheusUrl}/api/v1/rules`)).json()) as {
      data: { groups: Array<{ rules: Array<{ name: string; health: string }> }> };
    };
    const loaded = rules.data.groups.flatMap((group) => group.rules);
    expect(loaded).toHaveLength(10);
    // Evaluated against the live series without errors (a typo in a metric would not error, the coverage test above catches that).
    await waitFor(
      async () => {
        const current = (await (
          await fetch(`${prometheusUrl}/api/v1/rules`)
        ).json()) as typeof rules;
        return current.data.groups
          .flatMap((group) => group.rules)
          .every((rule) => rule.health === 'ok');
      },
      { what: 'every rule evaluated', timeoutMs: 10_000 },
    );
  });
});
