/** The platform's metric names: dashboards and alert rules depend on them, keep them stable. */
export enum MetricName {
  A2aMessages = 'a2a_messages_total',
  A2aResponseTime = 'a2a_response_time_seconds',
  A2aActiveTasks = 'a2a_active_tasks',
  A2aActiveStreams = 'a2a_sse_streams_active',
  A2aPushDeliveries = 'a2a_push_deliveries_total',
  A2aAgentHealth = 'a2a_agent_health',
  RegistryEvents = 'a2a_registry_events_total',
  DiscoveryDuration = 'a2a_discovery_duration_seconds',
  DiscoveryCache = 'a2a_discovery_cache_total',
  WorkflowRuns = 'a2a_workflow_runs_total',
  WorkflowSteps = 'a2a_workflow_steps_total',
  WorkflowStepDuration = 'a2a_workflow_step_duration_seconds',
  QueueDepth = 'a2a_queue_depth',
  CircuitBreakerState = 'a2a_circuit_breaker_state',
  HttpRequests = 'http_requests_total',
  HttpRequestDuration = 'http_request_duration_seconds',
}
