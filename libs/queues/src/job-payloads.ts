import type { JobName } from './queue-names.js';

/** What every tenant's job carries, so that workers act for the right tenant and logs join up. */
export interface TenantJobContext {
  readonly tenantId: string;
  /** W3C trace context of the request that caused the job. */
  readonly traceparent?: string;
  readonly requestId?: string;
}

/** The payload of each job; JSON only (BullMQ stores it as JSON). */
export interface JobPayloads {
  [JobName.RunWorkflowStep]: TenantJobContext & {
    readonly runId: string;
    readonly stepId: string;
    readonly attempt: number;
  };
  [JobName.DeliverPushNotification]: TenantJobContext & {
    readonly agent: string;
    readonly owner: string;
    readonly taskId: string;
    readonly pushConfigId: string;
    /** Unique per event and config, the same on every attempt: the JWT's `jti`, for receivers to drop duplicates. */
    readonly eventId: string;
    /** The notification as it goes on the wire (the config's protocol version). */
    readonly body: string;
    readonly contentType: string;
  };
  [JobName.ProbeAgentInstance]: TenantJobContext & {
    readonly registrationId: string;
  };
  [JobName.ExpireHeartbeats]: {
    readonly scheduledAt: string;
  };
  [JobName.PruneA2aHistory]: {
    readonly scheduledAt: string;
  };
}
