import {
  makeCounterProvider,
  makeGaugeProvider,
  makeHistogramProvider,
} from '@willsoto/nestjs-prometheus';
import { MetricName } from './metric-names.js';

const LATENCY_BUCKETS = [
  0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30,
];
const STEP_BUCKETS = [0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300];

/** Every metric of the platform, declared once; inject with `@InjectMetric(MetricName.X)`. */
export const METRIC_PROVIDERS = [
  makeCounterProvider({
    name: MetricName.A2aMessages,
    help: 'A2A requests by protocol method and outcome',
    labelNames: ['method', 'status'],
  }),
  makeHistogramProvider({
    name: MetricName.A2aResponseTime,
    help: 'A2A request duration in seconds (until the response or the stream started)',
    labelNames: ['method'],
    buckets: LATENCY_BUCKETS,
  }),
  makeGaugeProvider({
    name: MetricName.A2aActiveTasks,
    help: 'A2A tasks being executed by this instance',
    labelNames: ['agent'],
  }),
  makeGaugeProvider({
    name: MetricName.A2aActiveStreams,
    help: 'Open A2A server-sent event streams',
    labelNames: ['agent'],
  }),
  makeCounterProvider({
    name: MetricName.A2aPushDeliveries,
    help: 'Push notification delivery attempts by outcome',
    labelNames: ['outcome'],
  }),
  makeCounterProvider({
    name: MetricName.A2aRetentionDeleted,
    help: 'What the A2A retention sweep deleted: task_events, tasks or failed push_deliveries',
    labelNames: ['kind'],
  }),
  makeGaugeProvider({
    name: MetricName.A2aAgentHealth,
    help: 'Health of a registered agent instance (1 healthy, 0 unhealthy)',
    labelNames: ['agent_id'],
  }),
  makeCounterProvider({
    name: MetricName.RegistryEvents,
    help: 'Registry events: registration, deregistration, expiry, card change',
    labelNames: ['event'],
  }),
  makeHistogramProvider({
    name: MetricName.DiscoveryDuration,
    help: 'Agent discovery request duration in seconds',
    labelNames: ['cache'],
    buckets: LATENCY_BUCKETS,
  }),
  makeCounterProvider({
    name: MetricName.DiscoveryCache,
    help: 'Discovery cache lookups by result (hit or miss)',
    labelNames: ['result'],
  }),
  makeCounterProvider({
    name: MetricName.WorkflowRuns,
    help: 'Workflow runs that reached a status',
    labelNames: ['workflow', 'status'],
  }),
  makeCounterProvider({
    name: MetricName.WorkflowSteps,
    help: 'Workflow step attempts that reached a status',
    labelNames: ['status'],
  }),
  makeHistogramProvider({
    name: MetricName.WorkflowStepDuration,
    help: 'Workflow step attempt duration in seconds',
    labelNames: ['status'],
    buckets: STEP_BUCKETS,
  }),
  makeGaugeProvider({
    name: MetricName.QueueDepth,
    help: 'Jobs in a queue by state',
    labelNames: ['queue', 'state'],
  }),
  makeGaugeProvider({
    name: MetricName.CircuitBreakerState,
    help: 'Circuit breaker state per agent instance (0 closed, 1 half-open, 2 open)',
    labelNames: ['agent'],
  }),
  makeCounterProvider({
    name: MetricName.AgentCalls,
    help: 'Calls from workflow steps to agent instances by skill, instance URL and outcome',
    labelNames: ['skill', 'agent', 'outcome'],
  }),
  makeGaugeProvider({
    name: MetricName.RegistryHealthyInstances,
    help: 'Healthy registered instances per tenant and skill (0 while a skill has only unhealthy ones)',
    labelNames: ['tenant', 'skill'],
  }),
  makeGaugeProvider({
    name: MetricName.AppReady,
    help: 'Readiness of this instance as /ready reports it (1 ready, 0 not ready)',
  }),
  makeCounterProvider({
    name: MetricName.HttpRequests,
    help: 'HTTP requests by method, route template and status code',
    labelNames: ['method', 'route', 'status_code'],
  }),
  makeHistogramProvider({
    name: MetricName.HttpRequestDuration,
    help: 'HTTP request duration in seconds by method and route template',
    labelNames: ['method', 'route'],
    buckets: LATENCY_BUCKETS,
  }),
];
