import type { PlatformConfigService } from '@app/config';
import { InjectMetric, MetricName } from '@app/metrics';
import { queryRows, StepRunStatus, WorkflowRunStatus } from '@app/persistence';
import { JobName, JobProducer } from '@app/queues';
import { RegistryClient } from '@app/registry-client';
import type { AuthContext } from '@app/security';
import { ConflictException, Inject, Injectable, Logger, NotFoundException } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { UnrecoverableError } from 'bullmq';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { DataSource, type EntityManager } from 'typeorm';
import type { WorkflowDefinition, WorkflowStep } from '../workflows/workflow-definition.js';
import { WorkflowsService } from '../workflows/workflows.service.js';
import { AgentCaller, type AgentAnswer } from './agent-caller.js';
import { renderTemplate, type TemplateScope } from './templates.js';

const CARD_PATH = '/.well-known/agent-card.json';
const DEFAULT_STEP_TIMEOUT_MS = 60_000;
const BREAKER_OPEN_MS = 30_000;

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
export class RunsService {
  private readonly logger = new Logger(RunsService.name);
  private readonly caller: AgentCaller;
  private readonly breakers = new Map<string, number>();
  private readonly registry?: RegistryClient;

  constructor(
    private readonly dataSource: DataSource,
    private readonly workflows: WorkflowsService,
    private readonly producer: JobProducer,
    @Inject(ConfigService) config: PlatformConfigService,
    @InjectMetric(MetricName.WorkflowRuns)
    private readonly runsTotal: Counter<'workflow' | 'status'>,
    @InjectMetric(MetricName.WorkflowSteps) private readonly stepsTotal: Counter<'status'>,
    @InjectMetric(MetricName.WorkflowStepDuration)
    private readonly stepDuration: Histogram<'status'>,
    @InjectMetric(MetricName.CircuitBreakerState) private readonly breakerState: Gauge<'agent'>,
  ) {
    const registry = config.get('registry', { infer: true });
    this.caller = new AgentCaller(registry.apiKey);
    this.registry = registry.url ? new RegistryClient(registry.url, registry.apiKey) : undefined;
  }

  async start(
    auth: AuthContext,
    workflowName: string,
    input: Record<string, unknown>,
  ): Promise<RunView> {
    const workflow = await this.workflows.get(auth, workflowName);
    return this.startDefinition(auth, workflow, input);
  }

  /** Starts a run of a stored version, or of a plan made for one request (version 0). */
  async startDefinition(
    auth: AuthContext,
    workflow: { name: string; version: number; definition: WorkflowDefinition },
    input: Record<string, unknown>,
  ): Promise<RunView> {
    const definition = workflow.definition;
    const runId = await this.dataSource.transaction(async (manager) => {
      const [run] = await queryRows<{ id: string }>(
        manager,
        `INSERT INTO workflow_runs (tenant_id, workflow_name, workflow_version, definition, input, status)
         VALUES ($1, $2, $3, $4, $5, 'running') RETURNING id`,
        [auth.tenantId, workflow.name, workflow.version, definition, input],
      );
      this.runsTotal.inc({ workflow: workflow.name, status: 'started' });
      for (const step of definition.steps) {
        const waitingFor = step.dependsOn?.length ?? 0;
        await manager.query(
          `INSERT INTO step_runs (run_id, tenant_id, step_id, status, remaining_deps) VALUES ($1, $2, $3, $4, $5)`,
          [
            run.id,
            auth.tenantId,
            step.id,
            waitingFor === 0 ? StepRunStatus.Ready : StepRunStatus.Pending,
            waitingFor,
          ],
        );
      }
      return run.id;
    });
    await this.enqueue(
      auth.tenantId,
      runId,
      definition.steps.filter((step) => !step.dependsOn?.length).map((step) => step.id),
      1,
    );
    return this.get(auth, runId);
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

  /** One attempt of one step, as its job: claim it, call the agent, record what happened. */
  async executeStep(
    tenantId: string,
    runId: string,
    stepId: string,
    attempt: number,
  ): Promise<void> {
    const [claimed] = await queryRows<{
      definition: WorkflowDefinition;
      input: Record<string, unknown>;
      task_id: string | null;
      context_id: string | null;
      agent_url: string | null;
      resume_input: unknown;
    }>(
      this.dataSource,
      `UPDATE step_runs s SET status = 'running', attempt = $4, started_at = now()
       FROM workflow_runs r
       WHERE s.run_id = $1 AND s.step_id = $2 AND s.tenant_id = $3 AND s.status = 'ready' AND r.id = s.run_id AND r.status = 'running'
       RETURNING r.definition, r.input, s.task_id, s.context_id, s.agent_url, s.resume_input`,
      [runId, stepId, tenantId, attempt],
    );
    // Already taken, finished, or its run is over: nothing to do for this job.
    if (claimed === undefined) return;
    const step = claimed.definition.steps.find((candidate) => candidate.id === stepId);
    if (step === undefined) throw new UnrecoverableError(`Run ${runId} has no step ${stepId}`);

    const started = performance.now();
    const observe = (status: string) => {
      this.stepsTotal.inc({ status });
      this.stepDuration.observe({ status }, (performance.now() - started) / 1000);
    };
    let answer: AgentAnswer;
    let agentUrl: string | null = null;
    let instanceId: string | undefined;
    try {
      const resuming = claimed.resume_input !== null && claimed.task_id !== null;
      const agent =
        resuming && claimed.agent_url ? { url: claimed.agent_url } : await this.agentFor(step);
      instanceId = agent.instanceId;
      agentUrl = agent.url;
      const message = resuming
        ? claimed.resume_input
        : renderTemplate(step.input, await this.scopeOf(runId, claimed.input));
      answer = await this.caller.call(agentUrl, message, {
        timeoutMs: step.timeoutMs ?? DEFAULT_STEP_TIMEOUT_MS,
        taskId: resuming ? claimed.task_id : null,
        contextId: resuming ? claimed.context_id : null,
      });
    } catch (error) {
      observe('failed');
      // The agent did not answer (connection refused, timeout): the next attempt goes elsewhere.
      if (agentUrl !== null) this.tripBreaker(instanceId);
      await this.stepFailed(tenantId, runId, step, attempt, agentUrl, (error as Error).message);
      return;
    }
    if (instanceId !== undefined && this.breakers.delete(instanceId))
      this.breakerState.set({ agent: instanceId }, 0);
    if (answer.state === 'completed') {
      observe('completed');
      await this.stepCompleted(tenantId, runId, claimed.definition, step, agentUrl, answer);
    } else if (answer.state === 'input_required') {
      observe('waiting_input');
      await this.stepWaiting(runId, step, agentUrl, answer);
    } else {
      observe('failed');
      await this.stepFailed(tenantId, runId, step, attempt, agentUrl, answer.text, answer.taskId);
    }
  }

  private async agentFor(step: WorkflowStep): Promise<{ url: string; instanceId?: string }> {
    if (step.agentUrl) return { url: step.agentUrl };
    if (this.registry === undefined) {
      throw new Error(
        `Step "${step.id}" needs skill "${step.skill}" but no registry is configured`,
      );
    }
    const instance = await this.registry.resolve(step.skill ?? '', this.openInstances());
    const url = instance.cardUrl.endsWith(CARD_PATH)
      ? instance.cardUrl.slice(0, -CARD_PATH.length)
      : instance.url;
    return { url, instanceId: instance.id };
  }

  /**
   * Instances that failed to answer lately: their circuit is open for
   * BREAKER_OPEN_MS and discovery leaves them out, so a retry goes to another
   * instance of the same skill.
   */
  private openInstances(): string[] {
    const now = Date.now();
    for (const [id, until] of this.breakers) {
      if (until <= now) {
        this.breakers.delete(id);
        this.breakerState.set({ agent: id }, 1);
      }
    }
    return [...this.breakers.keys()];
  }

  private tripBreaker(instanceId: string | undefined): void {
    if (instanceId === undefined) return;
    this.breakers.set(instanceId, Date.now() + BREAKER_OPEN_MS);
    this.breakerState.set({ agent: instanceId }, 2);
  }

  private async scopeOf(runId: string, input: Record<string, unknown>): Promise<TemplateScope> {
    const done = await queryRows<{ step_id: string; output: unknown }>(
      this.dataSource,
      `SELECT step_id, output FROM step_runs WHERE run_id = $1 AND status = 'completed'`,
      [runId],
    );
    return {
      input,
      steps: Object.fromEntries(done.map((row) => [row.step_id, { output: row.output }])),
    };
  }

  private async stepCompleted(
    tenantId: string,
    runId: string,
    definition: WorkflowDefinition,
    step: WorkflowStep,
    agentUrl: string | null,
    answer: AgentAnswer,
  ): Promise<void> {
    const dependents = definition.steps
      .filter((candidate) => candidate.dependsOn?.includes(step.id))
      .map((candidate) => candidate.id);
    const ready = await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `UPDATE step_runs SET status = 'completed', output = $3, agent_url = $4, task_id = $5, error = NULL, completed_at = now()
         WHERE run_id = $1 AND step_id = $2 AND status = 'running'`,
        [runId, step.id, { text: answer.text, data: answer.data ?? null }, agentUrl, answer.taskId],
      );
      const unblocked = await queryRows<{ step_id: string }>(
        manager,
        `UPDATE step_runs SET remaining_deps = remaining_deps - 1,
           status = CASE WHEN remaining_deps = 1 THEN 'ready' ELSE status END
         WHERE run_id = $1 AND step_id = ANY($2::text[]) AND status = 'pending' RETURNING step_id, status`,
        [runId, dependents],
      );
      await this.finishIfDone(manager, runId, definition);
      return unblocked
        .filter((row) => (row as { status?: string }).status === 'ready')
        .map((row) => row.step_id);
    });
    await this.enqueue(tenantId, runId, ready, 1);
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
           output = $6, resume_input = NULL WHERE run_id = $1 AND step_id = $2 AND status = 'running'`,
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
  ): Promise<void> {
    const attempts = step.retry?.attempts ?? 1;
    if (attempt < attempts) {
      await this.dataSource.query(
        `UPDATE step_runs SET status = 'ready', error = $3, agent_url = $4 WHERE run_id = $1 AND step_id = $2`,
        [runId, step.id, reason, agentUrl],
      );
      await this.enqueue(tenantId, runId, [step.id], attempt + 1, step.retry?.backoffMs ?? 0);
      return;
    }
    this.logger.warn(`Run ${runId}: step ${step.id} failed after ${attempt} attempt(s): ${reason}`);
    const failedRun = await this.dataSource.transaction(async (manager) => {
      await manager.query(
        `UPDATE step_runs SET status = 'failed', error = $3, agent_url = $4, task_id = $5, completed_at = now()
         WHERE run_id = $1 AND step_id = $2`,
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

  private async finishIfDone(
    manager: EntityManager,
    runId: string,
    definition: WorkflowDefinition,
  ): Promise<void> {
    const steps = await queryRows<{ step_id: string; status: string; output: unknown }>(
      manager,
      'SELECT step_id, status, output FROM step_runs WHERE run_id = $1',
      [runId],
    );
    if (!steps.every((step) => step.status === 'completed')) return;
    const [run] = await queryRows<{ input: Record<string, unknown> }>(
      manager,
      'SELECT input FROM workflow_runs WHERE id = $1',
      [runId],
    );
    const scope: TemplateScope = {
      input: run.input,
      steps: Object.fromEntries(steps.map((step) => [step.step_id, { output: step.output }])),
    };
    const last = definition.steps.at(-1)?.id ?? '';
    const text = renderTemplate(definition.output ?? `\${steps.${last}.output.text}`, scope);
    const completed = await queryRows<{ workflow_name: string }>(
      manager,
      `UPDATE workflow_runs SET status = 'completed', output = $2, completed_at = now() WHERE id = $1 AND status = 'running'
       RETURNING workflow_name`,
      [runId, { text: typeof text === 'string' ? text : JSON.stringify(text) }],
    );
    for (const run of completed)
      this.runsTotal.inc({ workflow: run.workflow_name, status: 'completed' });
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
