import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';

/** A Grafana dashboard as the assertions read it. */
export interface Dashboard {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating?: { list: Array<{ name: string; type: string; query?: string | { query: string } }> };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  gridPos: { x: number; y: number; w: number; h: number };
  datasource?: { type: string; uid: string };
  targets?: Array<{ refId: string; expr: string; datasource?: { type: string; uid: string } }>;
}

export const DASHBOARD_DIR = 'monitoring/grafana/dashboards';

export function dashboards(): Array<{ file: string; dashboard: Dashboard }> {
  return readdirSync(DASHBOARD_DIR)
    .filter((file) => file.endsWith('.json'))
    .map((file) => ({
      file,
      dashboard: JSON.parse(readFileSync(join(DASHBOARD_DIR, file), 'utf8')) as Dashboard,
    }));
}

export function alertRules(): Array<{ alert: string; expr: string }> {
  const { groups } = parse(readFileSync('monitoring/alerts.yml', 'utf8')) as {
    groups: Array<{ rules: Array<{ alert: string; expr: string }> }>;
  };
  return groups.flatMap((group) => group.rules);
}

/** Every PromQL expression of the dashboards (panels and template variables) and the alerts. */
export function promqlExpressions(): Array<{ where: string; expr: string }> {
  const fromDashboards = dashboards().flatMap(({ file, dashboard }) => [
    ...dashboard.panels.flatMap((panel) =>
      (panel.targets ?? []).map((target) => ({
        where: `${file}: ${panel.title}`,
        expr: target.expr,
      })),
    ),
    ...(dashboard.templating?.list ?? []).map((variable) => ({
      where: `${file}: variable ${variable.name}`,
      expr: typeof variable.query === 'string' ? variable.query : (variable.query?.query ?? ''),
    })),
  ]);
  const fromAlerts = alertRules().map((rule) => ({
    where: `alert ${rule.alert}`,
    expr: rule.expr,
  }));
  return [...fromDashboards, ...fromAlerts];
}

const KEYWORDS = new Set([
  'by',
  'without',
  'on',
  'ignoring',
  'group_left',
  'group_right',
  'and',
  'or',
  'unless',
  'offset',
  'bool',
  'inf',
  'nan',
  'le',
]);

/**
 * The metric names a PromQL expression reads. A small lexer, enough for the
 * expressions we write: strings, label matchers, ranges, grouping clauses
 * and Grafana variables are dropped; an identifier followed by "(" is a
 * function; what remains are metric names.
 */
export function metricNames(expr: string): string[] {
  const stripped = expr
    .replace(/"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'/g, '""') // strings
    .replace(/\{[^}]*\}/g, ' ') // label matchers
    .replace(/\[[^\]]*\]/g, ' ') // ranges and subqueries
    .replace(/\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)/g, ' ') // grouping labels
    .replace(/\$\w+/g, ' ') // Grafana variables
    .replace(/label_values\(\s*([a-zA-Z_:][\w:]*)\s*,[^)]*\)/g, ' $1 '); // label_values(metric, label)
  const names = new Set<string>();
  for (const match of stripped.matchAll(/[a-zA-Z_:][\w:]*(?=\s*(\()?)/g)) {
    const [token, call] = [match[0], match[1]];
    if (call !== undefined || KEYWORDS.has(token) || /^\d/.test(token)) continue;
    names.add(token);
  }
  return [...names];
}
