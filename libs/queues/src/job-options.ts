import type { JobsOptions } from 'bullmq';
import { JobName } from './queue-names.js';

const DAY_SECONDS = 24 * 60 * 60;

/**
 * A workflow step attempt is one job: the orchestrator records attempts in
 * PostgreSQL and enqueues the next one itself (with its own backoff), so BullMQ
 * retries only what failed before the step was claimed.
 */
export const WORKFLOW_STEP_JOB_OPTIONS: JobsOptions = {
  attempts: 3,
  backoff: { type: 'exponential', delay: 500, jitter: 0.5 },
  removeOnComplete: { age: DAY_SECONDS, count: 10_000 },
  removeOnFail: { age: 7 * DAY_SECONDS },
};

/** Webhooks go down and come back: retry for about half an hour, then keep the failure. */
export const PUSH_DELIVERY_JOB_OPTIONS: JobsOptions = {
  attempts: 10,
  backoff: { type: 'exponential', delay: 2_000, jitter: 0.5 },
  removeOnComplete: { age: DAY_SECONDS, count: 10_000 },
  removeOnFail: false,
};

/** A probe that fails is a finding, not an error to retry: the next probe comes soon. */
export const AGENT_PROBE_JOB_OPTIONS: JobsOptions = {
  attempts: 1,
  removeOnComplete: true,
  removeOnFail: { count: 1_000 },
};

export const JOB_OPTIONS: Readonly<Record<JobName, JobsOptions>> = {
  [JobName.RunWorkflowStep]: WORKFLOW_STEP_JOB_OPTIONS,
  [JobName.DeliverPushNotification]: PUSH_DELIVERY_JOB_OPTIONS,
  [JobName.ProbeAgentInstance]: AGENT_PROBE_JOB_OPTIONS,
  [JobName.ExpireHeartbeats]: AGENT_PROBE_JOB_OPTIONS,
  [JobName.PruneA2aHistory]: AGENT_PROBE_JOB_OPTIONS,
};
