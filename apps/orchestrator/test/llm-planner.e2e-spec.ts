import { TaskState } from '@a2a-js/sdk';
import {
  artifactsText,
  connectAgent,
  isTask,
  spawnApp,
  useIsolatedDatabase,
  userMessage,
  waitFor,
  type SpawnedApp,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';

// Its apps act on every row they see (sweeps, probes, reconcilers): a database of its own.
useIsolatedDatabase('planner');

interface ChatRequest {
  model: string;
  messages: Array<{ role: string; content: string }>;
}

/**
 * The LLM planner against an OpenAI-compatible endpoint served by the test
 * (this machine has no model to ask): what the orchestrator sends it, what it
 * does with a good plan, a plan that names an agent URL, and an endpoint that
 * fails. Registry, agents and orchestrator are real processes.
 */
describe('orchestrator: LLM planner (OpenAI-compatible endpoint)', () => {
  const TENANT = `planner-${randomUUID().slice(0, 8)}`;
  const KEY = `planner-key-${randomUUID()}`;
  const tenant = { BOOTSTRAP_TENANT: TENANT, BOOTSTRAP_API_KEY: KEY };
  const requests: Array<{ authorization?: string; body: ChatRequest }> = [];
  /** What the fake model answers next: a chat completion's message content, or an HTTP status. */
  let next: { content: string } | { status: number } = { status: 500 };
  let llm: Server;
  let registry: SpawnedApp;
  let agents: SpawnedApp;
  let orchestrator: SpawnedApp;

  const readBody = async (request: IncomingMessage) => {
    let body = '';
    for await (const chunk of request) body += (chunk as Buffer).toString('utf8');
    return body;
  };

  const ask = async (text: string) => {
    const client = await connectAgent(orchestrator.url, KEY);
    const result = await client.sendMessage({
      tenant: '',
      message: userMessage(text),
      configuration: undefined,
      metadata: undefined,
    });
    if (!isTask(result)) throw new Error('expected a task');
    return result;
  };

  beforeAll(async () => {
    llm = createServer((request, response) => {
      void readBody(request).then((body) => {
        requests.push({
          authorization: request.headers.authorization,
          body: JSON.parse(body) as ChatRequest,
        });
        if ('status' in next) {
          response.writeHead(next.status).end();
          return;
        }
        response.writeHead(200, { 'content-type': 'application/json' }).end(
          JSON.stringify({
            id: 'chatcmpl-test',
            object: 'chat.completion',
            choices: [{ index: 0, message: { role: 'assistant', content: next.content } }],
          }),
        );
      });
    });
    await new Promise<void>((resolve) => llm.listen(0, '127.0.0.1', resolve));
    const address = llm.address();
    const llmUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}/v1`;
    const prefix = `${process.env.REDIS_KEY_PREFIX}-planner`;
    registry = await spawnApp('registry', { ...tenant, REDIS_KEY_PREFIX: `${prefix}-registry` });
    agents = await spawnApp('agent', {
      ...tenant,
      AGENTS: 'echo,math',
      REGISTRY_URL: registry.url,
      REDIS_KEY_PREFIX: `${prefix}-agents`,
    });
    orchestrator = await spawnApp('orchestrator', {
      ...tenant,
      REGISTRY_URL: registry.url,
      REDIS_KEY_PREFIX: `${prefix}-orchestrator`,
      PLANNER_LLM_URL: llmUrl,
      PLANNER_LLM_API_KEY: 'test-llm-key',
      PLANNER_LLM_MODEL: 'planner-test-model',
    });
    await waitFor(
      async () =>
        (
          await fetch(`${registry.url}/agents/resolve?skill=echo`, {
            headers: { authorization: `Bearer ${KEY}` },
          })
        ).status === 200,
      { what: 'the agents to register', timeoutMs: 20_000 },
    );
  });

  afterAll(async () => {
    await Promise.all([orchestrator?.stop(), agents?.stop(), registry?.stop()]);
    await new Promise((resolve) => llm?.close(resolve));
  });

  it('asks the model with the request and the known skills, then runs its plan', async () => {
    next = {
      content: JSON.stringify({
        input: { expression: '6*7' },
        steps: [
          { id: 'compute', skill: 'calculate', input: 'Calculate ${input.expression}' },
          {
            id: 'repeat',
            skill: 'echo',
            dependsOn: ['compute'],
            input: 'The answer is ${steps.compute.output.text}',
          },
        ],
        output: '${steps.repeat.output.text}',
      }),
    };
    const task = await ask('How much is six times seven? Say it back to me.');
    expect(task.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactsText(task)).toBe('The answer is 42');

    const sent = requests.at(-1)!;
    expect(sent.authorization).toBe('Bearer test-llm-key');
    expect(sent.body.model).toBe('planner-test-model');
    const user = JSON.parse(sent.body.messages.at(-1)!.content) as {
      request: string;
      skills: Array<{ id: string }>;
    };
    expect(user.request).toBe('How much is six times seven? Say it back to me.');
    expect(user.skills.map((skill) => skill.id)).toEqual(
      expect.arrayContaining(['echo', 'calculate']),
    );
  });

  it('the rules still come first: the seed request never reaches the model', async () => {
    const before = requests.length;
    const task = await ask('Calculate 2+3 and explain in English');
    expect(task.status?.state).not.toBe(TaskState.TASK_STATE_REJECTED);
    expect(requests.length).toBe(before);
  });

  it('refuses a plan that names an agent URL or an unknown skill', async () => {
    next = {
      content: JSON.stringify({
        steps: [{ id: 'leak', agentUrl: 'http://169.254.169.254/latest', input: 'hi' }],
      }),
    };
    expect((await ask('Fetch the cloud metadata')).status?.state).toBe(
      TaskState.TASK_STATE_REJECTED,
    );
    next = { content: JSON.stringify({ steps: [{ id: 'x', skill: 'teleport', input: 'hi' }] }) };
    expect((await ask('Teleport me')).status?.state).toBe(TaskState.TASK_STATE_REJECTED);
  });

  it('rejects the request, and keeps serving, when the model is unavailable or answers nonsense', async () => {
    next = { status: 503 };
    expect((await ask('Write me a poem')).status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    next = { content: 'Sure! Here is a poem...' };
    expect((await ask('Write me a poem')).status?.state).toBe(TaskState.TASK_STATE_REJECTED);
    expect((await fetch(`${orchestrator.url}/ready`)).status).toBe(200);
  });
});
