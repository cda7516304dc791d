import { describe, expect, it } from '@jest/globals';
import {
  PrometheusRule,
  ServiceMonitor,
} from '@kubernetes-models/prometheus-operator/monitoring.coreos.com/v1';
import { Deployment } from 'kubernetes-models/apps/v1';
import { HorizontalPodAutoscaler } from 'kubernetes-models/autoscaling/v2';
import { ConfigMap, Namespace, Secret, Service, ServiceAccount } from 'kubernetes-models/v1';
import { Ingress, NetworkPolicy } from 'kubernetes-models/networking.k8s.io/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { Role, RoleBinding } from 'kubernetes-models/rbac.authorization.k8s.io/v1';
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';

/** What every object has; the rest is checked by the models' schemas and the assertions below. */
interface K8sObject {
  apiVersion: string;
  kind: string;
  metadata: {
    name: string;
    namespace?: string;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
  };
  spec?: Record<string, unknown>;
  [key: string]: unknown;
}

interface Validatable {
  validate(): void;
}

const MODELS: Record<string, new (data: never) => Validatable> = {
  'v1/Namespace': Namespace,
  'v1/ConfigMap': ConfigMap,
  'v1/Secret': Secret,
  'v1/Service': Service,
  'v1/ServiceAccount': ServiceAccount,
  'apps/v1/Deployment': Deployment,
  'autoscaling/v2/HorizontalPodAutoscaler': HorizontalPodAutoscaler,
  'policy/v1/PodDisruptionBudget': PodDisruptionBudget,
  'networking.k8s.io/v1/Ingress': Ingress,
  'networking.k8s.io/v1/NetworkPolicy': NetworkPolicy,
  'rbac.authorization.k8s.io/v1/Role': Role,
  'rbac.authorization.k8s.io/v1/RoleBinding': RoleBinding,
  'monitoring.coreos.com/v1/ServiceMonitor': ServiceMonitor,
  'monitoring.coreos.com/v1/PrometheusRule': PrometheusRule,
};

const APPS = { agent: 8000, orchestrator: 8001, registry: 8002 } as const;
type AppName = keyof typeof APPS;
const APP_NAMES = Object.keys(APPS) as AppName[];

function build(overlay: string): K8sObject[] {
  const yaml = execFileSync('kubectl', ['kustomize', `kubernetes/overlays/${overlay}`], {
    encoding: 'utf8',
  });
  return parseAllDocuments(yaml).map((doc) => doc.toJS() as K8sObject);
}

function validate(object: K8sObject): void {
  const Model = MODELS[`${object.apiVersion}/${object.kind}`];
  if (Model === undefined) throw new Error(`No schema for ${object.apiVersion} ${object.kind}`);
  new Model(object as never).validate();
}

const byKind = (objects: K8sObject[], kind: string) => objects.filter((o) => o.kind === kind);
const named = (objects: K8sObject[], kind: string, name: string): K8sObject => {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (found === undefined) throw new Error(`${kind} ${name} missing`);
  return found;
};

// Minimal typed views of the fields the policy assertions read.
interface Probe {
  httpGet?: { path: string; port: string | number };
  exec?: { command: string[] };
}
interface Container {
  name: string;
  image: string;
  env?: Array<{ name: string; value?: string; valueFrom?: { fieldRef?: { fieldPath: string } } }>;
  envFrom?: Array<{ configMapRef?: { name: string }; secretRef?: { name: string } }>;
  ports?: Array<{ name: string; containerPort: number }>;
  startupProbe?: Probe;
  livenessProbe?: Probe;
  readinessProbe?: Probe;
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  securityContext?: {
    allowPrivilegeEscalation?: boolean;
    readOnlyRootFilesystem?: boolean;
    runAsNonRoot?: boolean;
    capabilities?: { drop?: string[] };
  };
}
interface PodSpec {
  serviceAccountName?: string;
  automountServiceAccountToken?: boolean;
  securityContext?: { runAsNonRoot?: boolean; runAsUser?: number };
  affinity?: {
    podAntiAffinity?: {
      preferredDuringSchedulingIgnoredDuringExecution?: Array<{
        podAffinityTerm: {
          topologyKey: string;
          labelSelector: { matchLabels: Record<string, string> };
        };
      }>;
    };
  };
  containers: Container[];
}
interface LabelSelector {
  matchLabels?: Record<string, string>;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }>;
}

const podTemplate = (deployment: K8sObject) =>
  (deployment.spec as { template: { metadata: { labels: Record<string, string> }; spec: PodSpec } })
    .template;

function selects(selector: LabelSelector, labels: Record<string, string>): boolean {
  const matchLabels = Object.entries(selector.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const matchExpressions = (selector.matchExpressions ?? []).every((e) => {
    if (e.operator === 'In') return e.values?.includes(labels[e.key] ?? '') ?? false;
    if (e.operator === 'NotIn') return !(e.values?.includes(labels[e.key] ?? '') ?? false);
    if (e.operator === 'Exists') return e.key in labels;
    return !(e.key in labels);
  });
  return matchLabels && matchExpressions;
}

describe.each(['dev', 'prod'])('kubernetes/overlays/%s', (overlay) => {
  const objects = build(overlay);
  const deployments = byKind(objects, 'Deployment');
  const envOf = (app: AppName) => podTemplate(named(objects, 'Deployment', app)).spec.containers[0];

  it('builds, and every object validates against the Kubernetes (and Prometheus operator) schemas', () => {
    expect(objects.length).toBeGreaterThan(20);
    for (const object of objects) {
      try {
        validate(object);
      } catch (error) {
        throw new Error(`${object.kind} ${object.metadata.name}: ${(error as Error).message}`, {
          cause: error,
        });
      }
    }
    // Everything namespaced lands in the platform's namespace.
    for (const object of objects.filter((o) => o.kind !== 'Namespace'))
      expect([object.kind, object.metadata.namespace]).toEqual([object.kind, 'a2a-platform']);
  });

  it('has a Deployment, Service, ServiceAccount, HPA and PDB per app', () => {
    for (const app of APP_NAMES)
      for (const kind of [
        'Deployment',
        'Service',
        'ServiceAccount',
        'HorizontalPodAutoscaler',
        'PodDisruptionBudget',
      ])
        expect(named(objects, kind, app).metadata.labels?.['app.kubernetes.io/name']).toBe(app);
  });

  it('gives every container probes, requests and limits, and a locked-down security context', () => {
    expect(deployments.length).toBeGreaterThanOrEqual(3);
    for (const deployment of deployments) {
      const { spec } = podTemplate(deployment);
      const where = `Deployment ${deployment.metadata.name}`;
      expect([where, spec.securityContext?.runAsNonRoot]).toEqual([where, true]);
      expect(spec.securityContext?.runAsUser).toBeGreaterThan(0);
      expect([where, spec.automountServiceAccountToken]).toEqual([where, false]);
      for (const container of spec.containers) {
        for (const probe of ['startupProbe', 'livenessProbe', 'readinessProbe'] as const)
          expect([where, probe, container[probe] !== undefined]).toEqual([where, probe, true]);
        for (const resource of ['cpu', 'memory']) {
          expect([where, container.resources?.requests?.[resource]]).not.toEqual([
            where,
            undefined,
          ]);
          expect([where, container.resources?.limits?.[resource]]).not.toEqual([where, undefined]);
        }
        expect(container.securityContext).toMatchObject({
          allowPrivilegeEscalation: false,
          readOnlyRootFilesystem: true,
          runAsNonRoot: true,
          capabilities: { drop: ['ALL'] },
        });
        expect(container.image).not.toMatch(/:latest$/);
      }
    }
  });

  it('probes the apps on /health (liveness, startup) and /ready (readiness) at their ports', () => {
    for (const app of APP_NAMES) {
      const container = envOf(app);
      expect(container.ports).toEqual([
        { name: 'http', containerPort: APPS[app], protocol: 'TCP' },
      ]);
      expect(container.livenessProbe?.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(container.startupProbe?.httpGet).toEqual({ path: '/health', port: 'http' });
      expect(container.readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'http' });
      expect(container.env).toEqual(expect.arrayContaining([{ name: 'APP', value: app }]));
    }
  });

  it('spreads app pods across zones and nodes', () => {
    for (const app of APP_NAMES) {
      const terms =
        podTemplate(named(objects, 'Deployment', app)).spec.affinity?.podAntiAffinity
          ?.preferredDuringSchedulingIgnoredDuringExecution ?? [];
      const keys = terms.map((term) => term.podAffinityTerm.topologyKey);
      expect(keys).toEqual(
        expect.arrayContaining(['topology.kubernetes.io/zone', 'kubernetes.io/hostname']),
      );
      for (const term of terms)
        expect(term.podAffinityTerm.labelSelector.matchLabels).toEqual({
          'app.kubernetes.io/name': app,
        });
    }
  });

  it('names each agent pod by its pod name and registers the pod address', () => {
    const env = envOf('agent').env ?? [];
    expect(env).toEqual(
      expect.arrayContaining([
        { name: 'A2A_AGENT_ID', valueFrom: { fieldRef: { fieldPath: 'metadata.name' } } },
        { name: 'A2A_PUBLIC_URL', value: 'http://$(POD_IP):8000' },
      ]),
    );
    // $(POD_IP) only expands when POD_IP is declared before it.
    const names = env.map((variable) => variable.name);
    expect(names.indexOf('POD_IP')).toBeLessThan(names.indexOf('A2A_PUBLIC_URL'));
    expect(names.indexOf('POD_IP')).toBeGreaterThanOrEqual(0);
  });

  it('autoscales within the agreed bounds', () => {
    const hpa = (app: AppName) =>
      named(objects, 'HorizontalPodAutoscaler', app).spec as {
        minReplicas: number;
        maxReplicas: number;
        scaleTargetRef: { kind: string; name: string };
        metrics: Array<{
          type: string;
          resource?: { name: string; target: { averageUtilization: number } };
          external?: { metric: { name: string } };
        }>;
      };
    const agent = hpa('agent');
    expect([agent.minReplicas, agent.maxReplicas]).toEqual([2, 100]);
    expect(agent.metrics).toEqual([
      {
        type: 'Resource',
        resource: { name: 'cpu', target: { type: 'Utilization', averageUtilization: 70 } },
      },
    ]);
    for (const app of APP_NAMES) {
      const { minReplicas, maxReplicas, scaleTargetRef } = hpa(app);
      expect(minReplicas).toBeGreaterThanOrEqual(2);
      expect(maxReplicas).toBeGreaterThan(minReplicas);
      expect(scaleTargetRef).toMatchObject({ kind: 'Deployment', name: app });
      const pdb = named(objects, 'PodDisruptionBudget', app).spec as { minAvailable: number };
      // A PDB that allows no eviction would block node drains: keep it below the HPA's minimum.
      expect(pdb.minAvailable).toBeLessThan(minReplicas);
    }
    // The API scales on CPU; the step workers also on their backlog where an adapter serves it.
    const metricsOf = (name: string) =>
      (
        named(objects, 'HorizontalPodAutoscaler', name).spec as {
          metrics: Array<{ resource?: { name: string }; external?: { metric: { name: string } } }>;
        }
      ).metrics.map((metric) => metric.external?.metric.name ?? metric.resource?.name);
    expect(metricsOf('orchestrator')).toEqual(['cpu']);
    expect(metricsOf('orchestrator-worker')).toEqual(
      overlay === 'prod' ? ['cpu', 'a2a_queue_depth'] : ['cpu'],
    );
  });

  it('denies all traffic by default and selects every pod with a policy of its own', () => {
    const policies = byKind(objects, 'NetworkPolicy').map(
      (policy) =>
        policy.spec as {
          podSelector: LabelSelector;
          policyTypes: string[];
          ingress?: unknown[];
          egress?: unknown[];
        },
    );
    const defaultDeny = policies.filter(
      (p) =>
        Object.keys(p.podSelector).length === 0 &&
        p.policyTypes.includes('Ingress') &&
        p.policyTypes.includes('Egress') &&
        p.ingress === undefined &&
        p.egress === undefined,
    );
    expect(defaultDeny).toHaveLength(1);
    for (const deployment of deployments) {
      const labels = podTemplate(deployment).metadata.labels;
      const own = policies.filter(
        (p) => Object.keys(p.podSelector).length > 0 && selects(p.podSelector, labels),
      );
      expect([deployment.metadata.name, own.length > 0]).toEqual([deployment.metadata.name, true]);
      expect([
        deployment.metadata.name,
        own.some((p) => p.policyTypes.includes('Ingress')),
      ]).toEqual([deployment.metadata.name, true]);
    }
  });

  it('lets only the orchestrator (API and workers), the registry, the ingress controller and Prometheus reach agents', () => {
    const agentPolicy = named(objects, 'NetworkPolicy', 'agent').spec as {
      ingress: Array<{ from: Array<Record<string, LabelSelector>> }>;
    };
    const sources = agentPolicy.ingress.flatMap((rule) => rule.from);
    expect(sources).toEqual([
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'orchestrator' } } },
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'orchestrator-worker' } } },
      { podSelector: { matchLabels: { 'app.kubernetes.io/name': 'registry' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'ingress-nginx' } } },
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
  });

  it('grants the apps no API access and operators read-only access without secrets', () => {
    for (const app of APP_NAMES)
      expect(named(objects, 'ServiceAccount', app).automountServiceAccountToken).toBe(false);
    for (const binding of byKind(objects, 'RoleBinding')) {
      const subjects = binding.subjects as Array<{ kind: string }>;
      expect(subjects.every((subject) => subject.kind !== 'ServiceAccount')).toBe(true);
    }
    for (const role of byKind(objects, 'Role')) {
      const rules = role.rules as Array<{ resources: string[]; verbs: string[] }>;
      for (const rule of rules) {
        expect(rule.verbs.every((verb) => ['get', 'list', 'watch'].includes(verb))).toBe(true);
        expect(rule.resources).not.toContain('secrets');
        expect(rule.resources).not.toContain('*');
      }
    }
  });

  it('reads settings from the ConfigMap and secrets from the Secret, with names the apps know', async () => {
    const { ENVIRONMENT_VARIABLES } = await import('@app/config');
    const known = new Set([...ENVIRONMENT_VARIABLES, 'APP', 'POD_IP']);
    const config = named(objects, 'ConfigMap', 'a2a-platform-config').data as Record<
      string,
      string
    >;
    for (const key of Object.keys(config)) expect([key, known.has(key)]).toEqual([key, true]);
    for (const app of APP_NAMES) {
      const container = envOf(app);
      for (const variable of container.env ?? [])
        expect([variable.name, known.has(variable.name)]).toEqual([variable.name, true]);
      const secretRef = container.envFrom?.find((from) => from.secretRef)?.secretRef?.name ?? '';
      expect(secretRef).toMatch(/^a2a-platform-secrets/);
      if (overlay === 'dev') {
        const secret = named(objects, 'Secret', secretRef).data as Record<string, string>;
        for (const key of Object.keys(secret)) expect([key, known.has(key)]).toEqual([key, true]);
      }
    }
  });

  it('routes each app host to its Service and port, streaming-friendly', () => {
    const ingress = named(objects, 'Ingress', 'a2a-platform');
    const spec = ingress.spec as {
      rules: Array<{
        host: string;
        http: { paths: Array<{ backend: { service: { name: string; port: { name: string } } } }> };
      }>;
      tls?: Array<{ hosts: string[] }>;
    };
    const services = spec.rules.flatMap((rule) =>
      rule.http.paths.map((path) => path.backend.service.name),
    );
    expect(services.sort()).toEqual(['agent', 'orchestrator', 'registry']);
    for (const name of services) {
      const service = named(objects, 'Service', name).spec as { ports: Array<{ name: string }> };
      expect(service.ports.map((port) => port.name)).toContain('http');
    }
    expect(ingress.metadata.annotations?.['nginx.ingress.kubernetes.io/proxy-buffering']).toBe(
      'off',
    );
    if (overlay === 'prod')
      expect(spec.tls?.[0]?.hosts.sort()).toEqual(spec.rules.map((rule) => rule.host).sort());
  });

  it('ships the same alert rules as monitoring/alerts.yml and scrapes every app Service (prod, with the operator)', () => {
    if (overlay === 'dev') {
      // A local cluster has no Prometheus operator CRDs: applying these objects would fail there.
      expect(byKind(objects, 'ServiceMonitor')).toEqual([]);
      expect(byKind(objects, 'PrometheusRule')).toEqual([]);
      return;
    }
    const rule = named(objects, 'PrometheusRule', 'a2a-platform');
    expect(rule.spec).toEqual(parse(readFileSync('monitoring/alerts.yml', 'utf8')));
    const monitor = named(objects, 'ServiceMonitor', 'a2a-platform').spec as {
      selector: LabelSelector;
      endpoints: Array<{ port: string; path: string; relabelings: unknown[] }>;
    };
    expect(monitor.endpoints).toEqual([
      expect.objectContaining({ port: 'http', path: '/metrics', honorLabels: true }),
    ]);
    // Jobs are named as in monitoring/prometheus.yml, which the alerts and dashboards query.
    expect(monitor.endpoints[0].relabelings).toEqual([
      {
        sourceLabels: ['__meta_kubernetes_service_name'],
        regex: '(.+?)(-worker)?',
        targetLabel: 'job',
        replacement: 'a2a-$1',
        action: 'replace',
      },
    ]);
    const jobs = (
      parse(readFileSync('monitoring/prometheus.yml', 'utf8')) as {
        scrape_configs: Array<{ job_name: string }>;
      }
    ).scrape_configs.map((job) => job.job_name);
    for (const app of APP_NAMES) {
      expect(selects(monitor.selector, named(objects, 'Service', app).metadata.labels ?? {})).toBe(
        true,
      );
      expect(jobs).toContain(`a2a-${app}`);
    }
  });

  it('splits the orchestrator into an API deployment and a step-worker deployment', () => {
    const modeOf = (name: string) =>
      podTemplate(named(objects, 'Deployment', name)).spec.containers[0].env?.find(
        (variable) => variable.name === 'WORKER_MODE',
      )?.value;
    expect(modeOf('orchestrator')).toBe('http');
    // The orchestrator's card advertises where clients reach it.
    expect(
      podTemplate(named(objects, 'Deployment', 'orchestrator')).spec.containers[0].env?.find(
        (variable) => variable.name === 'A2A_PUBLIC_URL',
      )?.value,
    ).toBe(
      overlay === 'dev'
        ? 'http://orchestrator.a2a.localhost'
        : 'https://orchestrator.a2a.example.com',
    );
    expect(modeOf('orchestrator-worker')).toBe('worker');
    expect(envOf('agent').env?.some((variable) => variable.name === 'WORKER_MODE')).toBe(false);
    const worker = podTemplate(named(objects, 'Deployment', 'orchestrator-worker')).spec;
    expect(worker.containers[0].readinessProbe?.httpGet).toEqual({ path: '/ready', port: 'http' });
    expect(worker.serviceAccountName).toBe('orchestrator-worker');
    // Nothing calls the workers: only Prometheus may reach them.
    const policy = named(objects, 'NetworkPolicy', 'orchestrator-worker').spec as {
      ingress: Array<{ from: unknown[] }>;
    };
    expect(policy.ingress.flatMap((rule) => rule.from)).toEqual([
      { namespaceSelector: { matchLabels: { 'kubernetes.io/metadata.name': 'monitoring' } } },
    ]);
  });

  it('leaves the replica count to the autoscaler', () => {
    for (const app of APP_NAMES)
      expect((named(objects, 'Deployment', app).spec as { replicas?: number }).replicas).toBe(
        undefined,
      );
  });
});

describe('kubernetes/secret.template.yaml', () => {
  it('is a valid Secret with the keys the apps read and no real value', () => {
    const secret = parse(readFileSync('kubernetes/secret.template.yaml', 'utf8')) as K8sObject;
    validate(secret);
    const data = secret.stringData as Record<string, string>;
    expect(Object.keys(data).sort()).toEqual([
      'BOOTSTRAP_API_KEY',
      'DATABASE_URL',
      'REDIS_PASSWORD',
      'REGISTRY_API_KEY',
    ]);
    for (const value of Object.values(data)) expect(value).toMatch(/REPLACE_ME|USER:PASSWORD/);
  });
});
