import { A2aModule, type AgentDirectory, type AnnouncedAgent } from '@app/a2a';
import { PlatformModule } from '@app/platform';
import {
  artifactsText,
  connectAgent,
  freePort,
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

/** Records what the announcer tells it; stands where the registry client will. */
const announcements: Array<{
  instanceId: string;
  agents?: readonly AnnouncedAgent[];
  withdrawn?: boolean;
}> = [];
class RecordingDirectory implements AgentDirectory {
  announce(instanceId: string, agents: readonly AnnouncedAgent[]): Promise<void> {
    announcements.push({ instanceId, agents });
    return Promise.resolve();
  }

  withdraw(instanceId: string): Promise<void> {
    announcements.push({ instanceId, withdrawn: true });
    return Promise.resolve();
  }
}

describe('docs/adding-an-agent.md', () => {
  let platform: TestApp;
  let publicUrl: string;

  beforeAll(async () => {
    const port = await freePort();
    publicUrl = `http://127.0.0.1:${port}`;
    const config = testConfig('agent', {
      INSTANCE_ID: 'docs-agent-1',
      PORT: String(port),
      A2A_PUBLIC_URL: publicUrl,
    });
    @Module({})
    class GreetingHostModule {}
    platform = await startTestApp(
      {
        module: GreetingHostModule,
        imports: [
          PlatformModule.forRoot(config),
          A2aModule.forRoot({
            agents: [GreetingAgent],
            mount: 'per-agent',
            directory: RecordingDirectory,
          }),
        ],
      },
      config,
    );
  });

  afterAll(async () => {
    await platform.close();
    expect(announcements.at(-1)).toEqual({ instanceId: 'docs-agent-1', withdrawn: true });
  });

  it('announces the served agents to the directory at start-up', () => {
    expect(announcements[0]).toEqual({
      instanceId: 'docs-agent-1',
      agents: [
        {
          name: 'greeting',
          cardUrl: `${publicUrl}/agents/greeting/.well-known/agent-card.json`,
        },
      ],
    });
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
