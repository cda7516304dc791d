import { TaskState, type StreamResponse } from '@a2a-js/sdk';
import {
  artifactsText,
  connectAgent,
  isTask,
  spawnApp,
  userData,
  userMessage,
  waitFor,
  type SpawnedApp,
  useIsolatedDatabase,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';

// Its apps act on every row they see (sweeps, probes, reconcilers): a database of its own.
useIsolatedDatabase('seed');

/** The product's first promise, end to end: every app as its own process, the SDK client as the user. */
describe('seed scenario: "Calculate 2+2 and explain in French"', () => {
  let registry: SpawnedApp;
  let agents: SpawnedApp;
  let orchestrator: SpawnedApp;
  // A tenant of its own: registrations other test files make in the same database stay out of its discovery.
  const TENANT = `seed-${randomUUID().slice(0, 8)}`;
  const KEY = `seed-key-${randomUUID()}`;
  const tenant = { BOOTSTRAP_TENANT: TENANT, BOOTSTRAP_API_KEY: KEY };

  beforeAll(async () => {
    const prefix = `${process.env.REDIS_KEY_PREFIX}-seed`;
    registry = await spawnApp('registry', { ...tenant, REDIS_KEY_PREFIX: `${prefix}-registry` });
    [agents, orchestrator] = await Promise.all([
      spawnApp('agent', {
        ...tenant,
        AGENTS: 'math,language',
        REGISTRY_URL: registry.url,
        REDIS_KEY_PREFIX: `${prefix}-agents`,
      }),
      spawnApp('orchestrator', {
        ...tenant,
        REGISTRY_URL: registry.url,
        REDIS_KEY_PREFIX: `${prefix}-orchestrator`,
      }),
    ]);
    await waitFor(
      async () =>
        (
          await fetch(`${registry.url}/agents/resolve?skill=explain`, {
            headers: { authorization: `Bearer ${KEY}` },
          })
        ).status === 200,
      { what: 'the agents to register', timeoutMs: 20_000 },
    );
  });

  afterAll(async () => {
    await Promise.all([orchestrator?.stop(), agents?.stop(), registry?.stop()]);
  });

  it('the orchestrator answers with the result, explained in French', async () => {
    const client = await connectAgent(orchestrator.url, KEY);
    const result = await client.sendMessage({
      tenant: '',
      message: userMessage('Calculate 2+2 and explain in French'),
      configuration: undefined,
      metadata: undefined,
    });
    if (!isTask(result)) throw new Error('expected a task');
    expect(result.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    const answer = artifactsText(result);
    expect(answer).toContain('4');
    expect(answer).toContain('français');
  });

  it('streams a status update per step, then the answer', async () => {
    const client = await connectAgent(orchestrator.url, KEY);
    const events: StreamResponse[] = [];
    for await (const event of client.sendMessageStream({
      tenant: '',
      message: userMessage('Calculate 6*7 and explain in Spanish'),
      configuration: undefined,
      metadata: undefined,
    })) {
      events.push(event);
    }
    const statuses = events.flatMap((event) =>
      event.payload?.$case === 'statusUpdate'
        ? [
            event.payload.value.status?.message?.parts
              .map((part) => (part.content?.$case === 'text' ? part.content.value : ''))
              .join('') ?? '',
          ]
        : [],
    );
    expect(statuses.some((text) => text.startsWith('Step calculate completed'))).toBe(true);
    expect(statuses.some((text) => text.startsWith('Step explain completed'))).toBe(true);
    const last = events.at(-1)?.payload;
    expect(last?.$case === 'statusUpdate' && last.value.status?.state).toBe(
      TaskState.TASK_STATE_COMPLETED,
    );
    const artifact = events.find((event) => event.payload?.$case === 'artifactUpdate')?.payload;
    expect(
      artifact?.$case === 'artifactUpdate' && artifact.value.artifact?.parts[0]?.content?.value,
    ).toContain('42');
  });

  it('runs a stored workflow named in a data part, and rejects what it cannot plan', async () => {
    const saved = await fetch(`${orchestrator.url}/workflows/greet-twice`, {
      method: 'PUT',
      headers: { authorization: `Bearer ${KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        steps: [{ id: 'calc', skill: 'calculate', input: 'Calculate ${input.expression}' }],
      }),
    });
    expect(saved.status).toBe(200);
    const client = await connectAgent(orchestrator.url, KEY);
    const stored = await client.sendMessage({
      tenant: '',
      message: userData({ workflow: 'greet-twice', input: { expression: '3*3' } }),
      configuration: undefined,
      metadata: undefined,
    });
    expect(isTask(stored) && artifactsText(stored)).toBe('9');
    const unknown = await client.sendMessage({
      tenant: '',
      message: userMessage('Write me a poem'),
      configuration: undefined,
      metadata: undefined,
    });
    expect(isTask(unknown) && unknown.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
  });
});
