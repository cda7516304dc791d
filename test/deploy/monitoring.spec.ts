import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse } from 'yaml';
import { alertRules, dashboards, metricNames, promqlExpressions } from './monitoring-files.js';

function promtool(...args: string[]): string {
  try {
    return execFileSync('promtool', args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (error) {
    const failed = error as { stdout?: string; stderr?: string; message: string };
    throw new Error(
      `promtool ${args.join(' ')} failed:\n${failed.stdout ?? ''}${failed.stderr ?? failed.message}`,
      { cause: error },
    );
  }
}

describe('monitoring/', () => {
  it('prometheus.yml passes promtool check config (with its rule file)', () => {
    expect(promtool('check', 'config', 'monitoring/prometheus.yml')).toMatch(
      /SUCCESS: 1 rule files found/,
    );
  });

  it('alerts.yml passes promtool check rules and covers every alert the platform promises', () => {
    expect(promtool('check', 'rules', 'monitoring/alerts.yml')).toMatch(/SUCCESS: \d+ rules found/);
    expect(alertRules().map((rule) => rule.alert)).toEqual([
      'A2AHighErrorRate',
      'A2AHighLatencyP99',
      'A2AAppDown',
      'A2AAppMissing',
      'A2AAgentUnhealthy',
      'A2ANoHealthyInstanceForSkill',
      'A2AQueueBacklog',
      'A2AWorkflowFailureRate',
      'A2ACircuitOpen',
      'A2AReadinessFlapping',
    ]);
  });

  it('every alert fires on its synthetic series and stays quiet otherwise (promtool test rules)', () => {
    expect(promtool('test', 'rules', 'monitoring/alerts.test.yml')).toMatch(/SUCCESS/);
    // Each alert has a unit test that expects it to fire and one moment where it must not.
    const tests = parse(readFileSync('monitoring/alerts.test.yml', 'utf8')) as {
      tests: Array<{ alert_rule_test: Array<{ alertname: string; exp_alerts: unknown[] }> }>;
    };
    const cases = tests.tests.flatMap((test) => test.alert_rule_test);
    for (const { alert } of alertRules()) {
      const own = cases.filter((c) => c.alertname === alert);
      expect([alert, own.some((c) => c.exp_alerts.length > 0)]).toEqual([alert, true]);
      expect([alert, own.some((c) => c.exp_alerts.length === 0)]).toEqual([alert, true]);
    }
  });

  it('every dashboard parses as a Grafana dashboard whose queries use the provisioned datasource', () => {
    const provisioned = parse(
      readFileSync('monitoring/grafana/provisioning/datasources/prometheus.yml', 'utf8'),
    ) as { datasources: Array<{ uid: string; type: string }> };
    const datasource = provisioned.datasources[0];
    const found = dashboards();
    expect(found.map(({ dashboard }) => dashboard.title).sort()).toEqual([
      'A2A Agent',
      'Multi-Agent System',
    ]);
    const uids = new Set<string>();
    for (const { file, dashboard } of found) {
      expect([file, typeof dashboard.uid, dashboard.schemaVersion >= 36]).toEqual([
        file,
        'string',
        true,
      ]);
      expect(uids.has(dashboard.uid)).toBe(false);
      uids.add(dashboard.uid);
      const ids = new Set<number>();
      for (const panel of dashboard.panels) {
        const where = `${file}: ${panel.title}`;
        expect([where, ids.has(panel.id)]).toEqual([where, false]);
        ids.add(panel.id);
        const { x, w, h } = panel.gridPos;
        expect([where, x >= 0 && w > 0 && x + w <= 24 && h > 0]).toEqual([where, true]);
        if (panel.type === 'row') continue;
        expect([where, ['timeseries', 'stat', 'table', 'gauge'].includes(panel.type)]).toEqual([
          where,
          true,
        ]);
        expect(panel.datasource).toEqual({ type: datasource.type, uid: datasource.uid });
        expect([where, (panel.targets ?? []).length > 0]).toEqual([where, true]);
        for (const target of panel.targets ?? []) {
          expect(target.datasource).toEqual({ type: datasource.type, uid: datasource.uid });
          expect([where, metricNames(target.expr).length > 0]).toEqual([where, true]);
        }
      }
    }
  });

  it('Grafana is provisioned from the dashboards directory that compose mounts', () => {
    const providers = parse(
      readFileSync('monitoring/grafana/provisioning/dashboards/a2a.yml', 'utf8'),
    ) as { providers: Array<{ options: { path: string } }> };
    const compose = parse(readFileSync('docker-compose.prod.yml', 'utf8')) as {
      services: Record<string, { volumes?: string[] }>;
    };
    const mounts = compose.services.grafana?.volumes ?? [];
    for (const provider of providers.providers)
      expect(mounts).toContain(`./monitoring/grafana/dashboards:${provider.options.path}:ro`);
    expect(mounts).toContain('./monitoring/grafana/provisioning:/etc/grafana/provisioning:ro');
  });

  it('reads metric names out of PromQL (the lexer the metric-coverage test relies on)', () => {
    expect(
      metricNames(
        'histogram_quantile(0.99, sum by (app, le) (rate(a2a_response_time_seconds_bucket{app=~"$app"}[$__rate_interval]))) > 2',
      ),
    ).toEqual(['a2a_response_time_seconds_bucket']);
    expect(
      metricNames(
        'sum(rate(a{status="x"}[5m])) / ignoring(status) sum(rate(b_total[5m])) or on() vector(0)',
      ),
    ).toEqual(['a', 'b_total']);
    expect(metricNames('label_values(process_start_time_seconds{app="agent"}, instance)')).toEqual([
      'process_start_time_seconds',
    ]);
    expect(promqlExpressions().length).toBeGreaterThan(20);
    expect(existsSync('monitoring/alerts.test.yml')).toBe(true);
  });
});
