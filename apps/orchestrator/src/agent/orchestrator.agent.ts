import { TaskState } from '@a2a-js/sdk';
import type { AgentExecutor, ExecutionEventBus, RequestContext } from '@a2a-js/sdk/server';
import { A2aAgent, dataOf, dataPart, PlatformUser, RunningTasks, textOf, textPart } from '@app/a2a';
import type { PlatformConfigService } from '@app/config';
import { RegistryClient } from '@app/registry-client';
import { Inject } from '@nestjs/common';
import { ConfigService } from '@nestjs/config';
import { setTimeout as sleep } from 'node:timers/promises';
import { RunsService, type RunView } from '../runs/runs.service.js';
import { WorkflowsService } from '../workflows/workflows.service.js';
import { LlmPlanner } from './llm-planner.js';
import { PlannerChain, RuleBasedPlanner, type Plan, type Planner } from './planner.js';

const TERMINAL = new Set(['completed', 'failed', 'canceled']);

/**
 * The orchestrator as an A2A agent: a data part `{"workflow": name, "input": {...}}`
 * runs that stored workflow; a text request is planned into a workflow over
 * the skills the registry knows. The A2A task mirrors the run: a status update
 * per finished step, then an artifact with the combined answer.
 */
@A2aAgent({
  name: 'orchestrator',
  displayName: 'Orchestrator',
  description:
    'Runs multi-agent workflows: send a request such as "Calculate 2+2 and explain in French", or {"workflow": name, "input": {...}}.',
  version: '1.0.0',
  skills: [
    {
      id: 'run-workflow',
      name: 'Run a workflow',
      description: 'Runs a stored workflow by name with the given input.',
      tags: ['orchestration', 'workflow'],
      examples: [
        '{"workflow": "calculate-and-explain", "input": {"expression": "2+2", "language": "fr"}}',
      ],
    },
    {
      id: 'plan-and-run',
      name: 'Plan and run',
      description: 'Plans a request in words into agent calls and runs them.',
      tags: ['orchestration', 'planning'],
      examples: ['Calculate 2+2 and explain in French'],
    },
  ],
})
export class OrchestratorAgent implements AgentExecutor {
  private readonly running = new RunningTasks();
  private readonly planner: Planner;

  constructor(
    private readonly runs: RunsService,
    private readonly workflows: WorkflowsService,
    @Inject(ConfigService) config: PlatformConfigService,
  ) {
    // The rules first; the LLM planner (when configured) for what they do not understand.
    const planner = config.get('planner', { infer: true });
    const registry = config.get('registry', { infer: true });
    const llmUrl = planner.llmUrl;
    this.planner = new PlannerChain([
      new RuleBasedPlanner(),
      ...(llmUrl && registry.url
        ? [
            new LlmPlanner(
              { ...planner, llmUrl },
              new RegistryClient(registry.url, registry.apiKey),
            ),
          ]
        : []),
    ]);
  }

  async execute(context: RequestContext, bus: ExecutionEventBus): Promise<void> {
    const { task, signal, end } = this.running.start(context, bus);
    try {
      task.start();
      const user = context.context.user;
      if (!(user instanceof PlatformUser))
        throw new Error('The orchestrator needs a platform caller');
      const auth = user.auth;
      const request = dataOf<{ workflow?: string; input?: Record<string, unknown> }>(
        context.userMessage,
      );
      let plan: Plan | undefined;
      if (request?.workflow) {
        const stored = await this.workflows.get(auth, request.workflow).catch(() => undefined);
        if (stored === undefined) return task.reject(`No workflow named "${request.workflow}"`);
        plan = { name: stored.name, definition: stored.definition, input: request.input ?? {} };
        task.status(
          TaskState.TASK_STATE_WORKING,
          `Running workflow ${stored.name} v${stored.version}`,
        );
        await this.follow(
          await this.runs.startDefinition(auth, stored, plan.input),
          auth,
          task,
          signal,
        );
        return;
      }
      plan = await this.planner.plan(textOf(context.userMessage));
      if (plan === undefined) {
        return task.reject(
          'I can run {"workflow": name, "input": {...}} or plan requests like "Calculate 2+2 and explain in French".',
        );
      }
      task.status(
        TaskState.TASK_STATE_WORKING,
        `Planned ${plan.definition.steps.map((step) => step.id).join(' -> ')}`,
      );
      await this.follow(
        await this.runs.startDefinition(
          auth,
          { name: plan.name, version: 0, definition: plan.definition },
          plan.input,
        ),
        auth,
        task,
        signal,
      );
    } finally {
      end();
    }
  }

  cancelTask(taskId: string): Promise<void> {
    this.running.cancel(taskId);
    return Promise.resolve();
  }

  /** Mirrors the run on the task until it finishes. */
  private async follow(
    started: RunView,
    auth: Parameters<RunsService['get']>[0],
    task: ReturnType<RunningTasks['start']>['task'],
    signal: AbortSignal,
  ): Promise<void> {
    const reported = new Set<string>();
    for (let delay = 20; ; delay = Math.min(delay * 2, 250)) {
      if (signal.aborted) return;
      const run = await this.runs.get(auth, started.id);
      for (const step of run.steps) {
        if (
          !reported.has(step.stepId) &&
          (step.status === 'completed' || step.status === 'failed')
        ) {
          reported.add(step.stepId);
          task.status(
            TaskState.TASK_STATE_WORKING,
            `Step ${step.stepId} ${step.status}: ${(step.output as { text?: string } | null)?.text ?? step.error ?? ''}`,
          );
        }
      }
      if (TERMINAL.has(run.status)) {
        const answer = (run.output as { text?: string } | null)?.text ?? '';
        if (run.status === 'completed') {
          task.artifact(
            [
              textPart(answer),
              dataPart({
                runId: run.id,
                steps: run.steps.map((step) => ({ id: step.stepId, output: step.output })),
              }),
            ],
            {
              name: 'answer',
            },
          );
          task.complete(answer);
        } else {
          task.fail(run.error ?? `The run ended ${run.status}`);
        }
        return;
      }
      await sleep(delay);
    }
  }
}
