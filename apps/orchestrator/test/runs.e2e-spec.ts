import {
  spawnApp,
  startTestApp,
  testConfig,
  waitFor,
  type SpawnedApp,
  type TestApp,
  useIsolatedDatabase,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { Redis } from 'ioredis';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { OrchestratorModule } from '../src/orchestrator.module.js';
import { RunReconciler } from '../src/runs/run-reconciler.js';
import { StepWorker } from '../src/runs/step.worker.js';
import { DataSource } from 'typeorm';

interface Run {
  id: string;
  status: string;
  output: { text: string } | null;
  error: string | null;
  steps: Array<{
    stepId: string;
    status: string;
    attempt: number;
    agentUrl: string | null;
    taskId: string | null;
    output: { text?: string; question?: string } | null;
    error: string | null;
  }>;
}

// Its apps act on every row they see (sweeps, probes, reconcilers): a database of its own.
useIsolatedDatabase('runs');

/** The orchestrator in process; a registry and an agent app as processes, the agents registering themselves. */
describe('orchestrator: workflow runs against real agents', () => {
  let registry: SpawnedApp;
  let agents: SpawnedApp;
  let orchestrator: TestApp;
  let orchestratorPrefix: string;
  // A tenant of its own: registrations other test files make in the same database stay out of its discovery.
  const TENANT = `runs-${randomUUID().slice(0, 8)}`;
  const KEY = `runs-key-${randomUUID()}`;
  const tenant = { BOOTSTRAP_TENANT: TENANT, BOOTSTRAP_API_KEY: KEY };

  const call = async <T>(method: string, path: string, body?: unknown) => {
    const response = await fetch(`${orchestrator.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${KEY}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      body: body === undefined ? undefined : JSON.stringify(body),
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const define = async (definition: Record<string, unknown>) => {
    const name = `wf-${randomUUID().slice(0, 8)}`;
    const saved = await call('PUT', `/workflows/${name}`, definition);
    expect(saved.status).toBe(200);
    return name;
  };
  const run = (name: string, input: Record<string, unknown>) =>
    call<Run>('POST', `/workflows/${name}/runs`, { input, wait: true, waitTimeoutMs: 30_000 });

  beforeAll(async () => {
    const prefix = `${process.env.REDIS_KEY_PREFIX}-runs`;
    registry = await spawnApp('registry', {
      ...tenant,
      REDIS_KEY_PREFIX: `${prefix}-registry`,
      REGISTRY_PROBE_INTERVAL_SECONDS: '2',
    });
    agents = await spawnApp('agent', {
      ...tenant,
      AGENTS: 'math,language,echo,slow',
      REGISTRY_URL: registry.url,
      REDIS_KEY_PREFIX: `${prefix}-agents`,
      THROTTLE_MESSAGE_LIMIT: '100000',
    });
    orchestratorPrefix = `${prefix}-orchestrator`;
    const config = testConfig('orchestrator', {
      ...tenant,
      REGISTRY_URL: registry.url,
      REDIS_KEY_PREFIX: `${prefix}-orchestrator`,
    });
    orchestrator = await startTestApp(OrchestratorModule.register(config), config);
    await waitFor(
      async () => {
        const response = await fetch(`${registry.url}/agents/resolve?skill=explain`, {
          headers: { authorization: `Bearer ${KEY}` },
        });
        return response.status === 200;
      },
      { what: 'the agents to register', timeoutMs: 20_000 },
    );
  });

  afterAll(async () => {
    await orchestrator?.close();
    await Promise.all([agents?.stop(), registry?.stop()]);
  });

  it('calculates and explains in French through agents found by skill', async () => {
    const name = await define({
      steps: [
        { id: 'calculate', skill: 'calculate', input: 'Calculate ${input.expression}' },
        {
          id: 'explain',
          skill: 'explain',
          dependsOn: ['calculate'],
          input: {
            language: '${input.language}',
            expression: '${input.expression}',
            result: '${steps.calculate.output.text}',
          },
        },
      ],
    });
    const result = await run(name, { expression: '2+2', language: 'fr' });
    expect(result.status).toBe(200);
    expect(result.body.status).toBe('completed');
    expect(result.body.output?.text).toContain('4');
    expect(result.body.output?.text).toContain('français');
    expect(result.body.steps.map((step) => [step.stepId, step.status, step.attempt])).toEqual([
      ['calculate', 'completed', 1],
      ['explain', 'completed', 1],
    ]);
    expect(result.body.steps[0].agentUrl).toBe(`http://localhost:${agents.port}/agents/math`);
  });

  it('runs a DAG with fan-out and fan-in, each step seeing the outputs it depends on', async () => {
    const echo = `${agents.url}/agents/echo`;
    const name = await define({
      steps: [
        { id: 'start', agentUrl: echo, input: '${input.word}' },
        {
          id: 'left',
          agentUrl: echo,
          dependsOn: ['start'],
          input: 'left(${steps.start.output.text})',
        },
        {
          id: 'right',
          agentUrl: echo,
          dependsOn: ['start'],
          input: 'right(${steps.start.output.text})',
        },
        {
          id: 'join',
          agentUrl: echo,
          dependsOn: ['left', 'right'],
          input: '${steps.left.output.text}+${steps.right.output.text}',
        },
      ],
      output: 'joined: ${steps.join.output.text}',
    });
    const result = await run(name, { word: 'x' });
    expect(result.body.status).toBe('completed');
    expect(result.body.output?.text).toBe('joined: left(x)+right(x)');
    expect(result.body.steps.every((step) => step.status === 'completed')).toBe(true);
  });

  it('finishes a run whose last two steps complete at the same moment, exactly once', async () => {
    const echo = `${agents.url}/agents/echo`;
    const name = await define({
      steps: [
        { id: 'left', agentUrl: echo, input: 'left ${input.n}' },
        { id: 'right', agentUrl: echo, input: 'right ${input.n}' },
      ],
      output: '${steps.left.output.text} / ${steps.right.output.text}',
    });
    const results = await Promise.all(Array.from({ length: 20 }, (_, n) => run(name, { n })));
    expect(results.map((result) => [result.body.status, result.body.output?.text])).toEqual(
      Array.from({ length: 20 }, (_, n) => ['completed', `left ${n} / right ${n}`]),
    );
  });

  it('the reconciler finishes a run whose steps all completed when its worker stopped before the run', async () => {
    const name = await define({
      steps: [{ id: 'only', agentUrl: `${agents.url}/agents/echo`, input: 'hello ${input.who}' }],
      output: 'said: ${steps.only.output.text}',
    });
    const done = await run(name, { who: 'you' });
    expect(done.body.status).toBe('completed');
    // What a worker leaves behind when it dies after counting off the last step.
    const dataSource = orchestrator.app.get(DataSource);
    await dataSource.query(
      `UPDATE workflow_runs SET status = 'running', output = NULL, completed_at = NULL WHERE id = $1`,
      [done.body.id],
    );
    const pass = await orchestrator.app.get(RunReconciler).reconcile();
    expect(pass.finished).toBeGreaterThanOrEqual(1);
    const after = await call<Run>('GET', `/runs/${done.body.id}`);
    expect(after.body.status).toBe('completed');
    expect(after.body.output?.text).toBe('said: hello you');
  });

  it('the reconciler queues again a ready step whose job already finished (a claim the database lost)', async () => {
    const name = await define({
      steps: [{ id: 'only', agentUrl: `${agents.url}/agents/echo`, input: 'again ${input.who}' }],
    });
    const done = await run(name, { who: 'me' });
    expect(done.body.status).toBe('completed');
    // What PostgreSQL holds after a crash lost the step's claim and completion: the step
    // ready for its first attempt, while the job of that attempt has finished in Redis.
    const dataSource = orchestrator.app.get(DataSource);
    await dataSource.query(
      `UPDATE step_runs SET status = 'ready', attempt = 0, output = NULL, agent_url = NULL, task_id = NULL,
         started_at = NULL, completed_at = NULL WHERE run_id = $1`,
      [done.body.id],
    );
    await dataSource.query(
      `UPDATE workflow_runs SET status = 'running', output = NULL, completed_at = NULL, remaining_steps = 1
       WHERE id = $1`,
      [done.body.id],
    );
    // Its timer may get there first; either pass queues the step again.
    await orchestrator.app.get(RunReconciler).reconcile();
    await waitFor(
      async () => (await call<Run>('GET', `/runs/${done.body.id}`)).body.status === 'completed',
      { what: 'the run to complete again', timeoutMs: 10_000 },
    );
    const after = await call<Run>('GET', `/runs/${done.body.id}`);
    expect(after.body.output?.text).toBe(done.body.output?.text);
  });

  it('retries a step whose agent fails twice, and the third attempt completes the run', async () => {
    // The echo agent behind a proxy that answers 503 to the first two calls (its card is
    // rewritten to point at the proxy, so that every call goes through it).
    const target = new URL(`${agents.url}/agents/echo`);
    let calls = 0;
    const proxy = createServer((request, response) => {
      let body = '';
      request.on('data', (chunk: Buffer) => (body += chunk.toString('utf8')));
      request.on('end', () => {
        void (async () => {
          const card = request.url?.endsWith('/.well-known/agent-card.json') === true;
          if (!card && ++calls <= 2) {
            response.writeHead(503, { 'content-type': 'text/plain' }).end('try again later');
            return;
          }
          const forwarded = await fetch(`${target.origin}${request.url ?? '/'}`, {
            method: request.method,
            headers: Object.fromEntries(
              Object.entries(request.headers).filter(
                ([name, value]) => typeof value === 'string' && name !== 'host',
              ) as Array<[string, string]>,
            ),
            body: request.method === 'GET' ? undefined : body,
          });
          const text = await forwarded.text();
          response
            .writeHead(forwarded.status, {
              'content-type': forwarded.headers.get('content-type') ?? 'application/json',
            })
            .end(card ? text.replaceAll(target.host, `127.0.0.1:${port}`) : text);
        })();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const port = (proxy.address() as AddressInfo).port;
    try {
      const name = await define({
        steps: [
          {
            id: 'flaky',
            agentUrl: `http://127.0.0.1:${port}/agents/echo`,
            input: 'hello ${input.word}',
            retry: { attempts: 3, backoffMs: 50 },
          },
        ],
      });
      const result = await run(name, { word: 'again' });
      expect(result.body.status).toBe('completed');
      expect(result.body.steps[0]).toMatchObject({ status: 'completed', attempt: 3 });
      expect(result.body.output?.text).toContain('hello again');
      expect(calls).toBe(3);
    } finally {
      proxy.closeAllConnections();
      await new Promise<void>((resolve) => proxy.close(() => resolve()));
    }
  });

  it('retries a failing step, then fails the run with the reason, cancelling what had not run', async () => {
    const name = await define({
      steps: [
        {
          id: 'broken',
          skill: 'calculate',
          input: 'Calculate 1 +* 2',
          retry: { attempts: 2, backoffMs: 50 },
        },
        {
          id: 'after',
          skill: 'explain',
          dependsOn: ['broken'],
          input: 'Explain ${steps.broken.output.text} in English',
        },
      ],
    });
    const result = await run(name, {});
    expect(result.body.status).toBe('failed');
    expect(result.body.error).toContain('broken');
    expect(result.body.steps.map((step) => [step.stepId, step.status, step.attempt])).toEqual([
      ['broken', 'failed', 2],
      ['after', 'canceled', 0],
    ]);
  });

  it('fails a step that outlives its timeout', async () => {
    const name = await define({
      steps: [
        {
          id: 'long',
          agentUrl: `${agents.url}/agents/slow`,
          input: { steps: 5, intervalMs: 400 },
          timeoutMs: 500,
        },
      ],
    });
    const result = await run(name, {});
    expect(result.body.status).toBe('failed');
    expect(result.body.steps[0].error).toMatch(/abort|timeout|time/i);
  });

  it('cancel mid-run: the steps not started are never called', async () => {
    const name = await define({
      steps: [
        { id: 'long', agentUrl: `${agents.url}/agents/slow`, input: { steps: 4, intervalMs: 250 } },
        { id: 'next', agentUrl: `${agents.url}/agents/echo`, dependsOn: ['long'], input: 'never' },
      ],
    });
    const started = await call<Run>('POST', `/workflows/${name}/runs`, { input: {} });
    await waitFor(
      async () =>
        (await call<Run>('GET', `/runs/${started.body.id}`)).body.steps[0].status === 'running',
      { what: 'the first step to start' },
    );
    const canceled = await call<Run>('POST', `/runs/${started.body.id}/cancel`);
    expect(canceled.status).toBe(200);
    expect(canceled.body.status).toBe('canceled');
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    const after = await call<Run>('GET', `/runs/${started.body.id}`);
    expect(after.body.status).toBe('canceled');
    expect(after.body.steps.find((step) => step.stepId === 'next')).toMatchObject({
      status: 'canceled',
      attempt: 0,
    });
    expect((await call('POST', `/runs/${randomUUID()}/cancel`)).status).toBe(404);
  });

  it('INPUT_REQUIRED pauses the run with the question; the answer continues the same A2A task', async () => {
    const name = await define({
      steps: [
        {
          id: 'report',
          agentUrl: `${agents.url}/agents/slow`,
          input: { steps: 1, intervalMs: 10, askInput: true },
        },
        {
          id: 'shout',
          agentUrl: `${agents.url}/agents/echo`,
          dependsOn: ['report'],
          input: '${steps.report.output.text}!',
        },
      ],
    });
    const paused = await run(name, {});
    expect(paused.body.status).toBe('waiting_input');
    const step = paused.body.steps[0] as Run['steps'][number] & {
      output: { question?: string } | null;
      taskId?: string;
    };
    expect(step.status).toBe('waiting_input');
    expect(step.output?.question).toBe('What should the report be called?');
    const resumed = await call<Run>('POST', `/runs/${paused.body.id}/input`, {
      text: 'Quarterly',
      wait: true,
    });
    expect(resumed.status).toBe(200);
    expect(resumed.body.status).toBe('completed');
    // The step's output is every artifact of the task: its progress, then the report.
    expect(resumed.body.output?.text).toBe('step 1/1\nReport named "Quarterly"!');
    const report = resumed.body.steps[0];
    expect(report.taskId).toBe(paused.body.steps[0].taskId);
    expect((await call('POST', `/runs/${paused.body.id}/input`, { text: 'again' })).status).toBe(
      409,
    );
  });

  it('loses no run when the queue is wiped mid-flight: the reconciler queues the work again from PostgreSQL', async () => {
    const name = await define({
      steps: [
        { id: 'work', agentUrl: `${agents.url}/agents/slow`, input: { steps: 1, intervalMs: 300 } },
        { id: 'after', agentUrl: `${agents.url}/agents/echo`, dependsOn: ['work'], input: 'done' },
      ],
    });
    // The worker takes nothing until the queue has been wiped: only the reconciler can bring the work back.
    const worker = orchestrator.app.get(StepWorker).worker;
    await worker.pause(true);
    const started = await Promise.all(
      Array.from({ length: 10 }, () => call<Run>('POST', `/workflows/${name}/runs`, { input: {} })),
    );
    // What a Redis flush does to the orchestrator: every queue key is gone.
    const redis = new Redis({ host: '127.0.0.1', port: Number(process.env.REDIS_PORT ?? 6379) });
    try {
      let cursor = '0';
      do {
        const [next, keys] = await redis.scan(
          cursor,
          'MATCH',
          `${orchestratorPrefix}:*`,
          'COUNT',
          1000,
        );
        if (keys.length > 0) await redis.unlink(...keys);
        cursor = next;
      } while (cursor !== '0');
    } finally {
      await redis.quit();
    }
    void worker.resume(); // restarts the worker loop, which settles only when the worker stops
    await waitFor(
      async () => {
        const runs = await Promise.all(
          started.map((entry) => call<Run>('GET', `/runs/${entry.body.id}`)),
        );
        return runs.every((entry) => entry.body.status === 'completed');
      },
      { what: 'every run to complete after the wipe', timeoutMs: 30_000 },
    );
  });

  it('fails over: when one of two instances of a skill is down, its circuit opens and the other serves', async () => {
    // Calls of the slow agent overlap for sure: steps choosing while one is outstanding spread
    // over both instances (least outstanding), so some choose the dead one.
    const SKILL = 'long-running';
    const second = await spawnApp('agent', {
      ...tenant,
      AGENTS: 'slow',
      REGISTRY_URL: registry.url,
      REDIS_KEY_PREFIX: `${process.env.REDIS_KEY_PREFIX}-runs-second`,
    });
    const instances = async () => {
      const response = await fetch(`${registry.url}/agents?skill=${SKILL}`, {
        headers: { authorization: `Bearer ${KEY}` },
      });
      return (
        (await response.json()) as {
          agents: Array<{ instances: Array<{ id: string; url: string }> }>;
        }
      ).agents.flatMap((agent) => agent.instances);
    };
    await waitFor(async () => (await instances()).length === 2, {
      what: `two ${SKILL} instances`,
      timeoutMs: 15_000,
    });
    const dead = (await instances()).find((instance) => instance.url.includes(`:${second.port}/`));
    const name = await define({
      steps: [
        // No retries: a call the dead instance refused goes to the other in the same attempt.
        { id: 'work', skill: SKILL, input: { steps: 1, intervalMs: 300 } },
      ],
    });
    // The orchestrator keeps a skill's instances for a second: past it, one run makes it read
    // both again; the instance dies right after, before the registry's probes can notice.
    await new Promise((resolve) => setTimeout(resolve, 1_100));
    expect((await run(name, {})).body.status).toBe('completed');
    await second.stop('SIGKILL');
    const results = await Promise.all(Array.from({ length: 8 }, () => run(name, {})));
    expect(results.map((result) => result.body.status)).toEqual(Array(8).fill('completed'));
    // The dead instance refused the connection: its circuit opened at once, its calls went to the other.
    const deadBreaker = `a2a_circuit_breaker_state{agent="${dead?.id}"`;
    const metrics = await (await fetch(`${orchestrator.url}/metrics`)).text();
    expect(
      metrics
        .split('\n')
        .find((line) => line.startsWith(deadBreaker))
        ?.endsWith(' 2'),
    ).toBe(true);
    expect(results.map((result) => result.body.steps[0].attempt)).toEqual(Array(8).fill(1));
    for (const result of results)
      expect(result.body.steps[0].agentUrl).not.toContain(`:${second.port}/`);
  });

  it('answers at once without wait, and the run is readable by id', async () => {
    const name = await define({
      steps: [{ id: 'only', agentUrl: `${agents.url}/agents/echo`, input: 'hello' }],
    });
    const started = await call<Run>('POST', `/workflows/${name}/runs`, { input: {} });
    expect(started.status).toBe(202);
    await waitFor(
      async () => (await call<Run>('GET', `/runs/${started.body.id}`)).body.status === 'completed',
      { what: 'the run' },
    );
    expect((await call<Run>('GET', `/runs/${started.body.id}`)).body.output?.text).toBe('hello');
    expect((await call('GET', `/runs/${randomUUID()}`)).status).toBe(404);

    // Listed newest first, filtered by workflow and status, without steps.
    const second = await call<Run>('POST', `/workflows/${name}/runs`, { input: {}, wait: true });
    const listed = await call<{ runs: Array<Run & { workflow: string }>; total: number }>(
      'GET',
      `/runs?workflow=${name}&status=completed&pageSize=10`,
    );
    expect(listed.status).toBe(200);
    expect(listed.body.total).toBe(2);
    expect(listed.body.runs.map((run) => run.id)).toEqual([second.body.id, started.body.id]);
    expect(listed.body.runs[0]).not.toHaveProperty('steps');
    const none = await call<{ runs: Run[] }>('GET', `/runs?workflow=${name}&status=failed`);
    expect(none.body.runs).toEqual([]);
    const bad = await call<{ errors: string[] }>('GET', '/runs?status=sideways');
    expect(bad.status).toBe(400);
    expect(bad.body.errors).toEqual([expect.stringContaining('status must be one of')]);
    expect((await call('POST', '/workflows/no-such-workflow/runs', { input: {} })).status).toBe(
      404,
    );
  });
});
