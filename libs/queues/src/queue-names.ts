/** Every BullMQ queue of the platform. */
export enum QueueName {
  /** Orchestrator: one job per ready workflow step attempt. */
  WorkflowSteps = 'workflow-steps',
  /** A2A host: one job per push notification to deliver, and the retention sweep. */
  PushDeliveries = 'push-deliveries',
  /** Registry: health probes of registered agent instances and heartbeat expiry. */
  AgentProbes = 'agent-probes',
}

/** Every job name; each belongs to exactly one queue ({@link JOB_QUEUES}). */
export enum JobName {
  RunWorkflowStep = 'run-workflow-step',
  DeliverPushNotification = 'deliver-push-notification',
  ProbeAgentInstance = 'probe-agent-instance',
  ExpireHeartbeats = 'expire-heartbeats',
  PruneA2aHistory = 'prune-a2a-history',
}

export const JOB_QUEUES = {
  [JobName.RunWorkflowStep]: QueueName.WorkflowSteps,
  [JobName.DeliverPushNotification]: QueueName.PushDeliveries,
  [JobName.ProbeAgentInstance]: QueueName.AgentProbes,
  [JobName.ExpireHeartbeats]: QueueName.AgentProbes,
  [JobName.PruneA2aHistory]: QueueName.PushDeliveries,
} as const satisfies Record<JobName, QueueName>;

/** The job names that travel on queue `Q`. */
export type JobsOf<Q extends QueueName> = {
  [J in JobName]: (typeof JOB_QUEUES)[J] extends Q ? J : never;
}[JobName];

export function jobNamesOf(queue: QueueName): JobName[] {
  return (Object.keys(JOB_QUEUES) as JobName[]).filter((job) => JOB_QUEUES[job] === queue);
}
