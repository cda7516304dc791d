import type { PlatformConfigService } from '@app/config';
import { InjectMetric, MetricName } from '@app/metrics';
import {
  asyncCommitWhen,
  BatchedStatement,
  flushWal,
  PreparedStatement,
  queryRows,
  StepRunStatus,
  walBarrierAvailable,
  WorkflowRunStatus,
} from '@app/persistence';
import { JobName, JobProducer } from '@app/queues';
import { RegistryClient } from '@app/registry-client';
import type { AuthContext } from '@app/security';
import {
  ConflictException,
  Inject,
  Injectable,
  Logger,
  NotFoundException,
  type OnApplicationShutdown,
} from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { UnrecoverableError } from 'bullmq';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { randomBytes, randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import type { WorkflowDefinition, WorkflowStep } from '../workflows/workflow-definition.js';
import { AgentCaller, type AgentAnswer } from './agent-caller.js';
import {
  AgentSelector,
  describeError,
  isConnectionRefused,
  NoAvailableAgent,
  type SelectedAgent,
} from './agent-selector.js';
import { renderTemplate, type TemplateScope } from './templates.js';

/**
 * A run and its steps (ready when they depend on nothing), in one statement.
 * Commits asynchronously when $10 says so: its first steps are queued at
 * once, while the caller is answered only after flushWal (see
 * RunsService.started).
 */
export const START_RUN = new PreparedStatement<{ id: string; created_at: Date }>(
  'orchestrator.start-run',
  `WITH run AS (
      INSERT INTO workflow_runs (tenant_id, workflow_name, workflow_version, definition, input, status, remaining_steps)
      VALUES ($1, $2, $3, $4, $5, 'running', $9) RETURNING id, created_at
    ), steps AS (
      INSERT INTO step_runs (run_id, tenant_id, step_id, status, remaining_deps)
      SELECT run.id, $1, s.step_id, s.status, s.remaining_deps
      FROM run, unnest($6::text[], $7::text[], $8::int[]) AS s(step_id, status, remaining_deps)
    )
    SELECT id, created_at, ${asyncCommitWhen('$10::boolean')} AS synchronous_commit FROM run`,
);

/**
 * A run of a stored workflow's latest version, in one statement: the lookup
 * of the definition, the run and its steps (ready when they depend on
 * nothing). No row: the tenant has no such workflow. Commits asynchronously
 * when $4 says so, as START_RUN.
 */
export const START_STORED_RUN = new PreparedStatement<{
  id: string;
  created_at: Date;
  version: number;
  definition: WorkflowDefinition;
}>(
  'orchestrator.start-stored-run',
  `WITH workflow AS (
      SELECT version, definition FROM workflow_definitions
      WHERE tenant_id = $1 AND name = $2 ORDER BY version DESC LIMIT 1
    ), run AS (
      INSERT INTO workflow_runs (tenant_id, workflow_name, workflow_version, definition, input, status, remaining_steps)
      SELECT $1, $2, version, definition, $3, 'running', jsonb_array_length(definition->'steps') FROM workflow
      RETURNING id, created_at, workflow_version, definition
    ), steps AS (
      INSERT INTO step_runs (run_id, tenant_id, step_id, status, remaining_deps)
      SELECT run.id, $1, s.step->>'id', CASE WHEN s.deps > 0 THEN 'pending' ELSE 'ready' END, s.deps
      FROM run, LATERAL (
        SELECT step, CASE jsonb_typeof(step->'dependsOn') WHEN 'array' THEN jsonb_array_length(step->'dependsOn') ELSE 0 END AS deps
        FROM jsonb_array_elements(run.definition->'steps') AS step
      ) AS s
    )
    SELECT id, created_at, workflow_version AS version, definition,
      ${asyncCommitWhen('$4::boolean')} AS synchronous_commit
    FROM run`,
);

/**
 * Claims steps for their attempts, and reads what each one's input template
 * may refer to; the claims made at the same moment share one statement
 * (ordered by run and step, the order of the rows they lock). No row: the
 * step is taken, finished, or its run is over.
 *
 * Claims and the completions of steps that do not finish their run commit
 * asynchronously (see asyncCommitWhen): the step path waits for no disk
 * flush. What a crash of PostgreSQL can lose of them, the reconciler
 * repairs: a lost claim leaves the step ready, a lost completion leaves it
 * running, and either runs again. That is safe because only idempotent steps
 * are ever called again blindly: a non-idempotent step records its agent and
 * call context synchronously before its call (flushing its claim with it),
 * and an attempt that finds that record asks the agent instead of calling
 * again. Finishing a run, failures and answers to questions commit
 * synchronously, and a run start is flushed before its caller hears of it
 * (see RunsService.started): what a client was told stays true.
 */
export const CLAIM_STEPS = new BatchedStatement<
  {
    run_id: string;
    step_id: string;
    tenant_id: string;
    attempt: number;
    /** Always ready: a step is claimed only from there. */
    status: StepRunStatus.Ready;
  },
  {
    i: number;
    definition: WorkflowDefinition;
    input: Record<string, unknown>;
    task_id: string | null;
    context_id: string | null;
    agent_url: string | null;
    call_context_id: string | null;
    resume_input: unknown;
    outputs: Record<string, unknown> | null;
  }
>(
  'orchestrator.claim-steps',
  // Each claim is found by its key, never through the index of active steps: the planner
  // thinks that index small when its statistics predate a burst of runs, and it holds the
  // dead entries of every step that finished since the last vacuum (thousands after a burst).
  // So the status a claim expects comes with the claim (a literal would let the planner
  // answer from that index), and the LIMITs tell the planner how many claims there are: it
  // guesses 100 rows for a set function, enough to prefer one scan of the index to a probe
  // per claim. A custom plan sees the count; a generic plan takes each LIMIT it cannot
  // evaluate for a tenth of the rows under it, so two bring its guess to one claim, and
  // PostgreSQL keeps the prepared statement's generic plan instead of planning every claim
  // again (0.2 ms each).
  `UPDATE step_runs s SET status = 'running', attempt = c.attempt, started_at = now()
    FROM (SELECT * FROM (SELECT * FROM jsonb_to_recordset($1::jsonb)
            AS c(i int, run_id uuid, step_id varchar, tenant_id varchar, attempt int, status varchar)
          LIMIT jsonb_array_length($1::jsonb)) AS claimed LIMIT jsonb_array_length($1::jsonb)) AS c,
      workflow_runs r
    WHERE s.run_id = c.run_id AND s.step_id = c.step_id AND s.tenant_id = c.tenant_id AND s.status = c.status
      AND r.id = s.run_id AND r.status = 'running'
    RETURNING c.i, r.definition, r.input, s.task_id, s.context_id, s.agent_url, s.call_context_id, s.resume_input,
      (SELECT jsonb_object_agg(done.step_id, done.output) FROM step_runs done
       WHERE done.run_id = s.run_id AND done.status = 'completed') AS outputs,
      ${asyncCommitWhen()} AS synchronous_commit`,
  (a, b) => a.run_id.localeCompare(b.run_id) || a.step_id.localeCompare(b.step_id),
);

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/**
 * Completes a step still held by this attempt (running); its run id when it
 * did. Commits asynchronously when `asyncWhen` holds (see CLAIM_STEPS).
 */
const completeThisStep = (asyncWhen: string) => `
      UPDATE step_runs SET status = 'completed', output = $3, agent_url = $4, task_id = $5, error = NULL,
        call_context_id = NULL, completed_at = now()
      WHERE run_id = $1 AND step_id = $2 AND status = 'running'
      RETURNING run_id, ${asyncCommitWhen(asyncWhen)} AS synchronous_commit`;

/**
 * Completes a leaf and counts it off its run. Given the run's output ($6,
 * rendered beforehand when every other step had completed by the time this
 * one was claimed), the completion that leaves no step remaining also
 * finishes the run, in the same statement, and commits synchronously; one
 * that does not finish the run commits asynchronously. Without it, a
 * completion that leaves none remaining gets the other steps' outputs as its
 * snapshot saw them, and how many steps the run has, so that finishing the
 * run rarely needs to read them.
 */
export const COMPLETE_LEAF = new PreparedStatement<{
  remaining_steps: number;
  finished: boolean;
  workflow_name: string;
  outputs: Record<string, unknown> | null;
  steps: number | null;
}>(
  'orchestrator.complete-leaf',
  `WITH done AS (${completeThisStep('$6::jsonb IS NULL')}),
    counted AS (
      UPDATE workflow_runs r SET remaining_steps = r.remaining_steps - 1,
        status = CASE WHEN $6::jsonb IS NOT NULL AND r.remaining_steps = 1 AND r.status = 'running'
          THEN 'completed' ELSE r.status END,
        output = CASE WHEN $6::jsonb IS NOT NULL AND r.remaining_steps = 1 AND r.status = 'running'
          THEN $6::jsonb ELSE r.output END,
        completed_at = CASE WHEN $6::jsonb IS NOT NULL AND r.remaining_steps = 1 AND r.status = 'running'
          THEN now() ELSE r.completed_at END
      FROM done WHERE r.id = done.run_id
      RETURNING r.id, r.remaining_steps, r.workflow_name,
        ($6::jsonb IS NOT NULL AND r.remaining_steps = 0 AND r.status = 'completed') AS finished)
    SELECT c.remaining_steps, c.finished, c.workflow_name,
      CASE WHEN c.remaining_steps = 0 AND NOT c.finished THEN
        (SELECT jsonb_object_agg(s.step_id, s.output) FROM step_runs s
         WHERE s.run_id = c.id AND s.status = 'completed' AND s.step_id <> $2) END AS outputs,
      CASE WHEN c.remaining_steps = 0 AND NOT c.finished THEN
        (SELECT count(*) FROM step_runs s WHERE s.run_id = c.id)::int END AS steps
    FROM counted c`,
);

/**
 * Completes a step that has dependents and counts it off them, readying those
 * it unblocks; commits asynchronously (see CLAIM_STEPS).
 */
export const COMPLETE_STEP = new PreparedStatement<{ step_id: string; status: string }>(
  'orchestrator.complete-step',
  `WITH done AS (${completeThisStep('true')}),
    counted AS (
      UPDATE workflow_runs r SET remaining_steps = r.remaining_steps - 1 FROM done WHERE r.id = done.run_id)
    UPDATE step_runs s SET remaining_deps = s.remaining_deps - 1,
      status = CASE WHEN s.remaining_deps = 1 THEN 'ready' ELSE s.status END
    FROM done WHERE s.run_id = done.run_id AND $6::text[] @> ARRAY[s.step_id::text] AND s.status = 'pending'
    RETURNING s.step_id, s.status`,
);

const RUN_TO_FINISH = new PreparedStatement<{
  definition: WorkflowDefinition;
  input: Record<string, unknown>;
}>(
  'orchestrator.run-to-finish',
  `SELECT definition, input FROM workflow_runs WHERE id = $1 AND status = 'running'`,
);

const RUN_STEPS = new PreparedStatement<{ step_id: string; status: string; output: unknown }>(
  'orchestrator.run-steps',
  `SELECT step_id, status, output FROM step_runs WHERE run_id = $1`,
);

const FINISH_RUN = new PreparedStatement<{ workflow_name: string }>(
  'orchestrator.finish-run',
  `UPDATE workflow_runs SET status = 'completed', output = $2, completed_at = now() WHERE id = $1 AND status = 'running'
    RETURNING workflow_name`,
);

const DEFAULT_STEP_TIMEOUT_MS = 60_000;
/** Instances of a skill one attempt may try when calls certainly never reach the agent. */
const MAX_INSTANCES_PER_ATTEMPT = 3;

export interface StepView {
  readonly stepId: string;
  readonly status: string;
  readonly attempt: number;
  readonly agentUrl: string | null;
  readonly taskId: string | null;
  readonly output: unknown;
  readonly error: string | null;
  readonly startedAt: string | null;
  readonly completedAt: string | null;
}

export interface RunView {
  readonly id: string;
  readonly workflow: string;
  readonly version: number;
  readonly status: string;
  readonly input: unknown;
  readonly output: unknown;
  readonly error: string | null;
  readonly createdAt: string;
  readonly completedAt: string | null;
  readonly steps: StepView[];
}

export interface RunList {
  readonly runs: Array<Omit<RunView, 'steps' | 'input' | 'output'>>;
  readonly page: number;
  readonly pageSize: number;
  /** The runs that match, counted up to TOTAL_CAP. */
  readonly total: number;
  /** More runs match than `total` says. */
  readonly totalCapped: boolean;
}

/** Runs counted for a listing at most: counting reads every run it counts. */
export const TOTAL_CAP = 10_000;

/**
 * A page of a tenant's runs, newest first, read in the order of the index on
 * (tenant, created, id) as far as the page goes, and how many runs match,
 * counted up to $6 + 1 (an exact count reads every run it counts: 44 ms a
 * listing for a tenant with 101,560 runs). Always one row at least: the
 * count, with the page's columns null when the page is past the end.
 */
export const LIST_RUNS = `
  WITH counted AS (
    SELECT count(*) AS total FROM (
      SELECT 1 FROM workflow_runs
      WHERE tenant_id = $1 AND ($2::varchar IS NULL OR workflow_name = $2) AND ($3::varchar IS NULL OR status = $3)
      LIMIT $6::int + 1) AS capped)
  SELECT counted.total, page.* FROM counted LEFT JOIN LATERAL (
    SELECT id, workflow_name, workflow_version, status, error, created_at, completed_at
    FROM workflow_runs
    WHERE tenant_id = $1 AND ($2::varchar IS NULL OR workflow_name = $2) AND ($3::varchar IS NULL OR status = $3)
    ORDER BY created_at DESC, id DESC LIMIT $4 OFFSET $5) AS page ON true`;

interface RunRow {
  id: string;
  tenant_id: string;
  workflow_name: string;
  workflow_version: number;
  definition: WorkflowDefinition;
  input: Record<string, unknown>;
  status: string;
  output: unknown;
  error: string | null;
  created_at: Date;
  completed_at: Date | null;
}

interface StepRow {
  step_id: string;
  status: string;
  attempt: number;
  agent_url: string | null;
  task_id: string | null;
  output: unknown;
  error: string | null;
  started_at: Date | null;
  completed_at: Date | null;
}

const TERMINAL_RUN = new Set<string>([
  WorkflowRunStatus.Completed,
  WorkflowRunStatus.Failed,
  WorkflowRunStatus.Canceled,
]);

/**
 * Runs workflows. PostgreSQL holds every run and step; a step travels as one
 * BullMQ job per attempt (job id `run:step:attempt`, so re-enqueueing never
 * duplicates). Completing a step and readying the steps it unblocks happen in
 * one transaction, with fan-in counted in the step rows.
 */
@Injectable()
export class RunsService implements OnApplicationShutdown {
  private readonly logger = new Logger(RunsService.name);
  private readonly caller: AgentCaller;
  private readonly selector: AgentSelector;

  constructor(
    private readonly dataSource: DataSource,
    private readonly producer: JobProducer,
    @Inject(ConfigService) config: PlatformConfigService,
    @InjectMetric(MetricName.WorkflowRuns)
    private readonly runsTotal: Counter<'workflow' | 'status'>,
    @InjectMetric(MetricName.WorkflowSteps) private readonly stepsTotal: Counter<'status'>,
    @InjectMetric(MetricName.WorkflowStepDuration)
    private readonly stepDuration: Histogram<'status'>,
    @InjectMetric(MetricName.CircuitBreakerState) breakerState: Gauge<'agent'>,
    @InjectMetric(MetricName.AgentCalls)
    private readonly agentCalls: Counter<'skill' | 'agent' | 'outcome'>,
  ) {
    const registry = config.get('registry', { infer: true });
    this.caller = new AgentCaller(registry.apiKey);
    this.selector = new AgentSelector(
      registry.url ? new RegistryClient(registry.url, registry.apiKey) : undefined,
      breakerState,
    );
  }

  onApplicationShutdown(): void {
    this.selector.shutdown();
  }

  /** Starts a run of the latest version of a stored workflow. */
  async start(
    auth: AuthContext,
    workflowName: string,
    input: Record<string, unknown>,
  ): Promise<RunView> {
    const flushed = await walBarrierAvailable(this.dataSource);
    const [run] = await START_STORED_RUN.rows(this.dataSource, [
      auth.tenantId,
      workflowName,
      input,
      flushed,
    ]);
    if (run === undefined) throw new NotFoundException(`No workflow "${workflowName}"`);
    return this.started(
      auth,
      { name: workflowName, version: run.version, definition: run.definition },
      input,
      run,
      flushed,
    );
  }

  /** Starts a run of a stored version, or of a plan made for one request (version 0). */
  async startDefinition(
    auth: AuthContext,
    workflow: { name: string; version: number; definition: WorkflowDefinition },
    input: Record<string, unknown>,
  ): Promise<RunView> {
    const definition = workflow.definition;
    // The run and its steps in one statement (atomic, one round trip).
    const flushed = await walBarrierAvailable(this.dataSource);
    const [run] = await START_RUN.rows(this.dataSource, [
      auth.tenantId,
      workflow.name,
      workflow.version,
      definition,
      input,
      definition.steps.map((step) => step.id),
      definition.steps.map(statusOf),
      definition.steps.map((step) => step.dependsOn?.length ?? 0),
      definition.steps.length,
      flushed,
    ]);
    return this.started(auth, workflow, input, run, flushed);
  }

  /**
   * A run just written: its first steps are enqueued, and it is returned as
   * written (no read back). The run was committed asynchronously; it is
   * returned only once the WAL is flushed, while its first steps already
   * run. So no caller ever hears of a run that a crash of PostgreSQL could
   * take back; a first step may run for one that it did take back only if it
   * is idempotent (a non-idempotent step's record before its call commits
   * synchronously, flushing the run with it). Without a WAL barrier
   * (walBarrierAvailable), the run was committed synchronously instead.
   */
  private async started(
    auth: AuthContext,
    workflow: { name: string; version: number; definition: WorkflowDefinition },
    input: Record<string, unknown>,
    run: { id: string; created_at: Date },
    committedAsynchronously: boolean,
  ): Promise<RunView> {
    const definition = workflow.definition;
    await Promise.all([
      this.enqueue(
        auth.tenantId,
        run.id,
        definition.steps.filter((step) => !step.dependsOn?.length).map((step) => step.id),
        1,
      ),
      committedAsynchronously ? flushWal(this.dataSource) : undefined,
    ]);
    this.runsTotal.inc({ workflow: workflow.name, status: 'started' });
    return {
      id: run.id,
      workflow: workflow.name,
      version: workflow.version,
      status: WorkflowRunStatus.Running,
      input,
      output: null,
      error: null,
      createdAt: run.created_at.toISOString(),
      completedAt: null,
      steps: definition.steps.map((step) => ({
        stepId: step.id,
        status: statusOf(step),
        attempt: 0,
        agentUrl: null,
        taskId: null,
        output: null,
        error: null,
        startedAt: null,
        completedAt: null,
      })),
    };
  }

  async list(
    auth: AuthContext,
    query: { workflow?: string; status?: string; page?: number; pageSize?: number },
  ): Promise<RunList> {
    const page = query.page ?? 1;
    const pageSize = query.pageSize ?? 20;
    const rows = await queryRows<{ total: string } & Partial<RunRow>>(this.dataSource, LIST_RUNS, [
      auth.tenantId,
      query.workflow ?? null,
      query.status ?? null,
      pageSize,
      (page - 1) * pageSize,
      TOTAL_CAP,
    ]);
    const total = Number(rows[0]?.total ?? 0);
    return {
      runs: rows
        .filter((row): row is { total: string } & RunRow => row.id != null)
        .map((row) => ({
          id: row.id,
          workflow: row.workflow_name,
          version: row.workflow_version,
          status: row.status,
          error: row.error,
          createdAt: row.created_at.toISOString(),
          completedAt: row.completed_at?.toISOString() ?? null,
        })),
      page,
      pageSize,
      total: Math.min(total, TOTAL_CAP),
      totalCapped: total > TOTAL_CAP,
    };
  }

  async get(auth: AuthContext, runId: string): Promise<RunView> {
    const [run] = await queryRows<RunRow>(
      this.dataSource,
      'SELECT * FROM workflow_runs WHERE id = $1 AND tenant_id = $2',
      [runId, auth.tenantId],
    );
    if (run === undefined) throw new NotFoundException(`No run ${runId}`);
    const steps = await queryRows<StepRow>(
      this.dataSource,
      'SELECT * FROM step_runs WHERE run_id = $1',
      [runId],
    );
    const order = new Map(run.definition.steps.map((step, index) => [step.id, index]));
    steps.sort((a, b) => (order.get(a.step_id) ?? 0) - (order.get(b.step_id) ?? 0));
    return {
      id: run.id,
      workflow: run.workflow_name,
      version: run.workflow_version,
      status: run.status,
      input: run.input,
      output: run.output,
      error: run.error,
      createdAt: run.created_at.toISOString(),
      completedAt: run.completed_at?.toISOString() ?? null,
      steps: steps.map((step) => ({
        stepId: step.step_id,
        status: step.status,
        attempt: step.attempt,
        agentUrl: step.agent_url,
        taskId: step.task_id,
        output: step.output,
        error: step.error,
        startedAt: step.started_at?.toISOString() ?? null,
        completedAt: step.completed_at?.toISOString() ?? null,
      })),
    };
  }

  /**
   * Cancels a run that has not finished: steps not started are canceled and
   * will not be called; a step already calling its agent finishes that call,
   * and its result no longer unblocks anything.
   */
  async cancel(auth: AuthContext, runId: string): Promise<RunView> {
    const canceled = await this.dataSource.transaction(async (manager) => {
      const rows = await queryRows<{ workflow_name: string }>(
        manager,
        `UPDATE workflow_runs SET status = 'canceled', error = 'Canceled by the caller', completed_at = now()
         WHERE id = $1 AND tenant_id = $2 AND status IN ('running', 'waiting_input') RETURNING workflow_name`,
        [runId, auth.tenantId],
      );
      if (rows.length > 0) {
        await manager.query(
          `UPDATE step_runs SET status = 'canceled', completed_at = now()
           WHERE run_id = $1 AND status IN ('pending', 'ready', 'waiting_input')`,
          [runId],
        );
      }
      return rows;
    });
    for (const row of canceled)
      this.runsTotal.inc({ workflow: row.workflow_name, status: 'canceled' });
    const run = await this.get(auth, runId);
    if (canceled.length === 0 && !TERMINAL_RUN.has(run.status))
      throw new NotFoundException(`No run ${runId}`);
    return run;
  }

  /** Polls PostgreSQL until the run has finished or paused, or the wait is over. */
  async waitFor(auth: AuthContext, runId: string, timeoutMs: number): Promise<RunView> {
    const deadline = Date.now() + timeoutMs;
    for (let delay = 10; ; delay = Math.min(delay * 2, 250)) {
      const run = await this.get(auth, runId);
      if (
        TERMINAL_RUN.has(run.status) ||
        run.status === (WorkflowRunStatus.WaitingInput as string) ||
        Date.now() > deadline
      )
        return run;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /**
   * One attempt of one step, as its job: claim it, choose the agent, record
   * the call (agent and context id) before making it, call through the
   * agent's circuit breaker, record what happened. When an earlier attempt's
   * call of a non-idempotent step may have reached the agent (its worker died
   * or it timed out), the agent is asked for the task of that context first,
   * and that task is followed instead of sending the message again.
   */
  async executeStep(
    tenantId: string,
    runId: string,
    stepId: string,
    attempt: number,
  ): Promise<void> {
    // A job naming no run that can exist (not a UUID) has nothing to claim.
    const [claimed] = UUID.test(runId)
      ? await CLAIM_STEPS.rows(this.dataSource, {
          run_id: runId,
          step_id: stepId,
          tenant_id: tenantId,
          attempt,
          status: StepRunStatus.Ready,
        })
      : [];
    // Already taken, finished, or its run is over: nothing to do for this job.
    if (claimed === undefined) return;
    const step = claimed.definition.steps.find((candidate) => candidate.id === stepId);
    if (step === undefined) throw new UnrecoverableError(`Run ${runId} has no step ${stepId}`);

    const started = performance.now();
    const observe = (status: string) => {
      this.stepsTotal.inc({ status });
      this.stepDuration.observe({ status }, (performance.now() - started) / 1000);
    };
    const timeoutMs = step.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS;
    const traceparent = traceparentOf(runId);
    const resuming = claimed.resume_input !== null && claimed.task_id !== null;
    const recovering =
      !resuming &&
      step.idempotent === false &&
      claimed.call_context_id !== null &&
      claimed.agent_url !== null;
    let agent: SelectedAgent | undefined;
    let answer: AgentAnswer;
    try {
      if (resuming && claimed.agent_url) {
        agent = this.selector.fixed(claimed.agent_url);
        const url = agent.url;
        answer = await agent.call(() =>
          this.caller.call(url, claimed.resume_input, {
            timeoutMs,
            traceparent,
            taskId: claimed.task_id,
            contextId: claimed.context_id,
          }),
        );
      } else if (recovering) {
        agent = this.selector.fixed(claimed.agent_url!);
        answer = await agent.call(() =>
          this.recoverCall(runId, step, claimed.agent_url!, claimed.call_context_id!, {
            timeoutMs,
            traceparent,
            scope: scopeOf(claimed.input, claimed.outputs),
          }),
        );
      } else {
        const message = renderTemplate(step.input, scopeOf(claimed.input, claimed.outputs));
        const contextId = randomUUID();
        // An instance that certainly never got the call (it refused the connection, or its
        // circuit is open) leaves the call to another instance of the skill, in this attempt.
        for (let tries = 1; ; tries++) {
          agent = step.agentUrl
            ? this.selector.fixed(step.agentUrl)
            : await this.selector.forSkill(step.skill ?? '');
          const url = agent.url;
          // Recorded before the call of a non-idempotent step: whoever picks it up next
          // knows where the call may have gone. (An idempotent step is simply called again.)
          if (step.idempotent === false) {
            await this.dataSource.query(
              `UPDATE step_runs SET agent_url = $3, call_context_id = $4
               WHERE run_id = $1 AND step_id = $2 AND status = 'running'`,
              [runId, step.id, url, contextId],
            );
          }
          try {
            answer = await agent.call(() =>
              this.caller.call(url, message, { timeoutMs, traceparent, contextId }),
            );
            break;
          } catch (error) {
            const failOver =
              step.agentUrl === undefined &&
              tries < MAX_INSTANCES_PER_ATTEMPT &&
              neverDelivered(error);
            if (!failOver) throw error;
            this.agentCalls.inc({ skill: step.skill ?? '', agent: url, outcome: 'error' });
            this.logger.warn(
              `Run ${runId}: step ${step.id} not delivered to ${url} (${describeError(error)}); trying another instance`,
            );
          }
        }
      }
    } catch (error) {
      agent?.release();
      observe('failed');
      const url = agent?.url ?? null;
      if (url !== null)
        this.agentCalls.inc({ skill: step.skill ?? '', agent: url, outcome: 'error' });
      // A call that certainly never reached the agent leaves nothing to look for later.
      const undelivered = agent === undefined || neverDelivered(error);
      await this.stepFailed(tenantId, runId, step, attempt, url, describeError(error), null, {
        keepCallContext: !undelivered,
      });
      return;
    }
    this.agentCalls.inc({ skill: step.skill ?? '', agent: agent.url, outcome: answer.state });
    if (answer.state === 'completed') {
      observe('completed');
      await this.stepCompleted(tenantId, runId, claimed, step, agent.url, answer);
    } else if (answer.state === 'input_required') {
      observe('waiting_input');
      await this.stepWaiting(runId, step, agent.url, answer);
    } else {
      observe('failed');
      await this.stepFailed(tenantId, runId, step, attempt, agent.url, answer.text, answer.taskId);
    }
  }

  /**
   * A non-idempotent step whose earlier call may have reached the agent: the
   * task of that call's context is followed if the agent has one; only when
   * it has none is the message sent (once, in the same context).
   */
  private async recoverCall(
    runId: string,
    step: WorkflowStep,
    url: string,
    contextId: string,
    options: { timeoutMs: number; traceparent: string; scope: TemplateScope },
  ): Promise<AgentAnswer> {
    const task = await this.caller.findTask(url, contextId, options.timeoutMs);
    if (task !== null) {
      this.logger.log(`Run ${runId}: step ${step.id} adopts task ${task.id} of its earlier call`);
      return this.caller.awaitTask(url, task, options.timeoutMs);
    }
    const message = renderTemplate(step.input, options.scope);
    return this.caller.call(url, message, {
      timeoutMs: options.timeoutMs,
      traceparent: options.traceparent,
      contextId,
    });
  }

  private async stepCompleted(
    tenantId: string,
    runId: string,
    run: {
      definition: WorkflowDefinition;
      input: Record<string, unknown>;
      /** The steps that had completed when this one was claimed. */
      outputs: Record<string, unknown> | null;
    },
    step: WorkflowStep,
    agentUrl: string | null,
    answer: AgentAnswer,
  ): Promise<void> {
    const definition = run.definition;
    const dependents = definition.steps
      .filter((candidate) => candidate.dependsOn?.includes(step.id))
      .map((candidate) => candidate.id);
    const output = { text: answer.text, data: answer.data ?? null };
    if (dependents.length === 0) {
      // A leaf: complete it and count it off the run in one statement; the completion
      // that leaves no step remaining finishes the run. When every other step had
      // completed before this one was claimed (completed is final), this one is the
      // last: the run's output is known now, and the same statement finishes the run.
      const earlier = run.outputs ?? {};
      const last =
        !(step.id in earlier) && Object.keys(earlier).length + 1 === definition.steps.length;
      const [counted] = await COMPLETE_LEAF.rows(this.dataSource, [
        runId,
        step.id,
        output,
        agentUrl,
        answer.taskId,
        last ? runOutput(run, { ...earlier, [step.id]: output }) : null,
      ]);
      if (counted?.finished) {
        this.runsTotal.inc({ workflow: counted.workflow_name, status: 'completed' });
        return;
      }
      if (counted?.remaining_steps !== 0) return;
      // The other steps' outputs, when this statement's snapshot already held all of them
      // (a step that finished at the same moment may be missing: then they are read again).
      const others = counted.outputs ?? {};
      const outputs =
        Object.keys(others).length + 1 === counted.steps
          ? { ...others, [step.id]: output }
          : undefined;
      await this.finishRun(runId, run, outputs);
      return;
    }
    // One statement, so one atomic round trip: complete the step and count it off its
    // dependents (only if this attempt still held the step), readying those it unblocks.
    const unblocked = await COMPLETE_STEP.rows(this.dataSource, [
      runId,
      step.id,
      output,
      agentUrl,
      answer.taskId,
      dependents,
    ]);
    await this.enqueue(
      tenantId,
      runId,
      unblocked.filter((row) => row.status === 'ready').map((row) => row.step_id),
      1,
    );
  }

  /** The agent asked a question: the run pauses until a caller answers it (POST /runs/{id}/input). */
  private async stepWaiting(
    runId: string,
    step: WorkflowStep,
    agentUrl: string | null,
    answer: AgentAnswer,
  ): Promise<void> {
    await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `UPDATE step_runs SET status = 'waiting_input', task_id = $3, context_id = $4, agent_url = $5,
           output = $6, resume_input = NULL, call_context_id = NULL WHERE run_id = $1 AND step_id = $2 AND status = 'running'`,
        [runId, step.id, answer.taskId, answer.contextId, agentUrl, { question: answer.text }],
      );
      await manager.query(
        `UPDATE workflow_runs SET status = 'waiting_input' WHERE id = $1 AND status = 'running'`,
        [runId],
      );
    });
  }

  /** Answers the question a paused run is waiting on; the same A2A task continues with it. */
  async resume(auth: AuthContext, runId: string, input: unknown): Promise<RunView> {
    const resumed = await this.dataSource.transaction(async (manager) => {
      const [run] = await queryRows<{ id: string }>(
        manager,
        `UPDATE workflow_runs SET status = 'running' WHERE id = $1 AND tenant_id = $2 AND status = 'waiting_input' RETURNING id`,
        [runId, auth.tenantId],
      );
      if (run === undefined) return [];
      return queryRows<{ step_id: string; attempt: number }>(
        manager,
        `UPDATE step_runs SET status = 'ready', resume_input = $2 WHERE run_id = $1 AND status = 'waiting_input'
         RETURNING step_id, attempt`,
        [runId, JSON.stringify(input ?? '')],
      );
    });
    if (resumed.length === 0) {
      const run = await this.get(auth, runId);
      throw new ConflictException(`Run ${run.id} is ${run.status}, not waiting for input`);
    }
    for (const step of resumed)
      await this.enqueue(auth.tenantId, runId, [step.step_id], step.attempt + 1);
    return this.get(auth, runId);
  }

  private async stepFailed(
    tenantId: string,
    runId: string,
    step: WorkflowStep,
    attempt: number,
    agentUrl: string | null,
    reason: string,
    taskId: string | null = null,
    options: { keepCallContext?: boolean } = {},
  ): Promise<void> {
    const attempts = step.retry?.attempts ?? 1;
    if (attempt < attempts) {
      const [retried] = await queryRows<{ step_id: string }>(
        this.dataSource,
        `UPDATE step_runs SET status = 'ready', error = $3, agent_url = COALESCE($4, agent_url),
           call_context_id = CASE WHEN $5::boolean THEN call_context_id END
         WHERE run_id = $1 AND step_id = $2 AND status = 'running' AND attempt = $6 RETURNING step_id`,
        [runId, step.id, reason, agentUrl, options.keepCallContext === true, attempt],
      );
      if (retried !== undefined)
        await this.enqueue(tenantId, runId, [step.id], attempt + 1, step.retry?.backoffMs ?? 0);
      return;
    }
    this.logger.warn(`Run ${runId}: step ${step.id} failed after ${attempt} attempt(s): ${reason}`);
    const failedRun = await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `UPDATE step_runs SET status = 'failed', error = $3, agent_url = $4, task_id = $5, completed_at = now()
         WHERE run_id = $1 AND step_id = $2 AND status = 'running'`,
        [runId, step.id, reason, agentUrl, taskId],
      );
      await manager.query(
        `UPDATE step_runs SET status = 'canceled' WHERE run_id = $1 AND status IN ('pending', 'ready')`,
        [runId],
      );
      return queryRows<{ workflow_name: string }>(
        manager,
        `UPDATE workflow_runs SET status = 'failed', error = $2, completed_at = now() WHERE id = $1 AND status = 'running'
         RETURNING workflow_name`,
        [runId, `Step "${step.id}" failed: ${reason}`],
      );
    });
    for (const run of failedRun)
      this.runsTotal.inc({ workflow: run.workflow_name, status: 'failed' });
  }

  /**
   * Completes a run whose steps have all completed, with its output rendered
   * from their outputs. Guarded by the run's status, so that the step that
   * finished the run and the reconciler (which finishes a run whose last step
   * completed just before its worker died) can both try.
   */
  async finishRun(
    runId: string,
    run?: { definition: WorkflowDefinition; input: Record<string, unknown> },
    /** Every step's output, when the caller knows them all; read from the table otherwise. */
    outputs?: Record<string, unknown>,
  ): Promise<void> {
    const [current] = run ? [run] : await RUN_TO_FINISH.rows(this.dataSource, [runId]);
    if (current === undefined) return;
    let completedOutputs = outputs;
    if (completedOutputs === undefined) {
      const steps = await RUN_STEPS.rows(this.dataSource, [runId]);
      if (!steps.every((step) => step.status === 'completed')) return;
      completedOutputs = Object.fromEntries(steps.map((step) => [step.step_id, step.output]));
    }
    const completed = await FINISH_RUN.rows(this.dataSource, [
      runId,
      runOutput(current, completedOutputs),
    ]);
    for (const finished of completed)
      this.runsTotal.inc({ workflow: finished.workflow_name, status: 'completed' });
  }

  private async enqueue(
    tenantId: string,
    runId: string,
    stepIds: readonly string[],
    attempt: number,
    delay = 0,
  ): Promise<void> {
    if (stepIds.length === 0) return;
    await this.producer.enqueueBulk(
      JobName.RunWorkflowStep,
      stepIds.map((stepId) => ({
        payload: { tenantId, runId, stepId, attempt },
        options: { jobId: `${runId}:${stepId}:${attempt}`, ...(delay > 0 ? { delay } : {}) },
      })),
    );
  }
}

/** A step with dependencies waits for them; the others are ready at once. */
function statusOf(step: WorkflowStep): StepRunStatus {
  return step.dependsOn?.length ? StepRunStatus.Pending : StepRunStatus.Ready;
}

/** A finished run's output: its output template (by default the last step's text) over every step's output. */
function runOutput(
  run: { definition: WorkflowDefinition; input: Record<string, unknown> },
  outputs: Record<string, unknown>,
): { text: string } {
  const last = run.definition.steps.at(-1)?.id ?? '';
  const text = renderTemplate(
    run.definition.output ?? `\${steps.${last}.output.text}`,
    scopeOf(run.input, outputs),
  );
  return { text: typeof text === 'string' ? text : JSON.stringify(text) };
}

/** A W3C trace context for one agent call: the run is the trace, each call a span of it. */
function traceparentOf(runId: string): string {
  return `00-${runId.replace(/-/g, '')}-${randomBytes(8).toString('hex')}-01`;
}

/** Whether a failed call certainly never reached the agent (no connection, or an open circuit). */
function neverDelivered(error: unknown): boolean {
  if (error instanceof NoAvailableAgent) return true;
  if ((error as { code?: string }).code === 'EOPENBREAKER') return true;
  return isConnectionRefused(error);
}

/** What a step's input template may refer to: the run's input and the completed steps' outputs. */
function scopeOf(
  input: Record<string, unknown>,
  outputs: Record<string, unknown> | null,
): TemplateScope {
  return {
    input,
    steps: Object.fromEntries(
      Object.entries(outputs ?? {}).map(([stepId, output]) => [stepId, { output }]),
    ),
  };
}
