import { A2aModule } from '@app/a2a';
import { PlatformModule } from '@app/platform';
import {
  artifactsText,
  connectAgent,
  isTask,
  startTestApp,
  testConfig,
  userMessage,
  type TestApp,
} from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { TaskState } from '@a2a-js/sdk';
import { Module } from '@nestjs/common';
import { readFileSync } from 'node:fs';
import { GreetingAgent } from '../docs/examples/greeting.agent.js';

describe('docs/adding-an-agent.md', () => {
  let platform: TestApp;

  beforeAll(async () => {
    const config = testConfig('agent');
    @Module({})
    class GreetingHostModule {}
    platform = await startTestApp(
      {
        module: GreetingHostModule,
        imports: [
          PlatformModule.forRoot(config),
          A2aModule.forRoot({ agents: [GreetingAgent], mount: 'per-agent' }),
        ],
      },
      config,
    );
  });

  afterAll(async () => {
    await platform.close();
  });

  it('shows the example agent exactly as it is in docs/examples', () => {
    const page = readFileSync('docs/adding-an-agent.md', 'utf8');
    const example = readFileSync('docs/examples/greeting.agent.ts', 'utf8');
    expect(page).toContain('```ts\n' + example + '```');
  });

  it('the example agent works as the page says', async () => {
    const card = (await (
      await fetch(`${platform.url}/agents/greeting/.well-known/agent-card.json`)
    ).json()) as { name: string };
    expect(card.name).toBe('Greeting Agent');
    const client = await connectAgent(`${platform.url}/agents/greeting`, 'dev-local-key');
    const result = await client.sendMessage({
      tenant: '',
      message: userMessage('Ada'),
      configuration: undefined,
      metadata: undefined,
    });
    if (!isTask(result)) throw new Error('expected a task');
    expect(result.status?.state).toBe(TaskState.TASK_STATE_COMPLETED);
    expect(artifactsText(result)).toBe('Hello, Ada!');
    const empty = await client.sendMessage({
      tenant: '',
      message: userMessage(''),
      configuration: undefined,
      metadata: undefined,
    });
    expect(isTask(empty) && empty.status?.state).toBe(TaskState.TASK_STATE_REJECTED);
  });
});
