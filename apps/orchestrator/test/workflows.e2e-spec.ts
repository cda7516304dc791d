import { ApiKeyRole } from '@app/persistence';
import { ApiKeyService } from '@app/security';
import { startTestApp, testConfig, type TestApp } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { OrchestratorModule } from '../src/orchestrator.module.js';

interface Stored {
  name: string;
  version: number;
  definition: { steps: Array<{ id: string; idempotent: boolean }> };
}

describe('orchestrator: workflow definitions', () => {
  let orchestrator: TestApp;
  let otherTenantKey: string;

  const call = async <T>(
    method: string,
    path: string,
    body?: string,
    headers: Record<string, string> = {},
    key = 'dev-local-key',
  ) => {
    const response = await fetch(`${orchestrator.url}${path}`, {
      method,
      headers: {
        authorization: `Bearer ${key}`,
        ...(body !== undefined ? { 'content-type': 'application/json' } : {}),
        ...headers,
      },
      body,
    });
    return { status: response.status, body: (await response.json()) as T };
  };
  const name = () => `wf-${randomUUID().slice(0, 8)}`;
  const definition = {
    steps: [
      { id: 'calculate', skill: 'calculate', input: 'Calculate ${input.expression}' },
      {
        id: 'explain',
        skill: 'explain',
        dependsOn: ['calculate'],
        input: { result: '${steps.calculate.output.text}', language: '${input.language}' },
      },
    ],
    output: '${steps.explain.output.text}',
  };

  beforeAll(async () => {
    const config = testConfig('orchestrator');
    orchestrator = await startTestApp(OrchestratorModule.register(config), config);
    otherTenantKey = (
      await orchestrator.app.get(ApiKeyService).createKey({
        tenantId: `other-${randomUUID().slice(0, 8)}`,
        name: 'other',
        role: ApiKeyRole.Member,
      })
    ).key;
  });

  afterAll(async () => {
    await orchestrator.close();
  });

  it('stores a workflow and every save adds the next version', async () => {
    const workflow = name();
    const first = await call<Stored>('PUT', `/workflows/${workflow}`, JSON.stringify(definition));
    expect(first.status).toBe(200);
    expect(first.body).toMatchObject({ name: workflow, version: 1 });
    const second = await call<Stored>(
      'PUT',
      `/workflows/${workflow}`,
      JSON.stringify({ ...definition, description: 'v2' }),
    );
    expect(second.body.version).toBe(2);
    expect((await call<Stored>('GET', `/workflows/${workflow}`)).body.version).toBe(2);
    expect((await call<Stored>('GET', `/workflows/${workflow}?version=1`)).body.version).toBe(1);
    // A run takes the latest version, with its steps ready or waiting on their dependencies.
    const run = await call<{ version: number; steps: Array<{ stepId: string; status: string }> }>(
      'POST',
      `/workflows/${workflow}/runs`,
      JSON.stringify({ input: { expression: '1+1', language: 'French' } }),
    );
    expect(run.status).toBe(202);
    expect(run.body.version).toBe(2);
    expect(run.body.steps).toEqual([
      expect.objectContaining({ stepId: 'calculate', status: 'ready' }),
      expect.objectContaining({ stepId: 'explain', status: 'pending' }),
    ]);
    const listed = await call<{ workflows: Stored[] }>('GET', '/workflows');
    expect(
      listed.body.workflows
        .filter((entry) => entry.name === workflow)
        .map((entry) => entry.version),
    ).toEqual([2]);
  });

  it('accepts YAML', async () => {
    const workflow = name();
    const yaml = [
      'description: from YAML',
      'steps:',
      '  - id: echo',
      '    skill: echo',
      '    input: "${input.text}"',
      '    idempotent: false',
    ].join('\n');
    const saved = await call<Stored>('PUT', `/workflows/${workflow}`, yaml, {
      'content-type': 'application/yaml',
    });
    expect(saved.status).toBe(200);
    expect(saved.body.definition.steps).toEqual([
      expect.objectContaining({ id: 'echo', idempotent: false }),
    ]);
    const broken = await call<{ status: number }>(
      'PUT',
      `/workflows/${workflow}`,
      'steps: [unclosed',
      { 'content-type': 'application/yaml' },
    );
    expect(broken.status).toBe(400);
  });

  it('rejects an invalid workflow with every problem named, and stores nothing', async () => {
    const workflow = name();
    const cyclic = {
      steps: [
        { id: 'a', skill: 's', input: 'x', dependsOn: ['b'] },
        { id: 'b', skill: 's', input: 'x', dependsOn: ['a'] },
      ],
    };
    const response = await call<{ status: number; errors: string[] }>(
      'PUT',
      `/workflows/${workflow}`,
      JSON.stringify(cyclic),
    );
    expect(response.status).toBe(400);
    expect(response.body.errors).toEqual(['the steps form a cycle: dependsOn must be a DAG']);
    expect((await call('GET', `/workflows/${workflow}`)).status).toBe(404);
    expect((await call('GET', `/workflows/${workflow}?version=abc`)).status).toBe(400);
  });

  it("keeps tenants apart: another tenant's workflow is not found", async () => {
    const workflow = name();
    await call('PUT', `/workflows/${workflow}`, JSON.stringify(definition));
    expect(
      (await call('GET', `/workflows/${workflow}`, undefined, {}, otherTenantKey)).status,
    ).toBe(404);
    expect(
      (
        await call(
          'POST',
          `/workflows/${workflow}/runs`,
          JSON.stringify({ input: {} }),
          {},
          otherTenantKey,
        )
      ).status,
    ).toBe(404);
    const theirs = await call<Stored>(
      'PUT',
      `/workflows/${workflow}`,
      JSON.stringify(definition),
      {},
      otherTenantKey,
    );
    expect(theirs.body.version).toBe(1);
  });
});
