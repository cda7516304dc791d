#!/usr/bin/env node
// Runs the sample multi-agent workflow on a running platform (npm start):
// "Calculate 2+2 and explain in French": the math agent computes, the
// language agent explains, the orchestrator chains them. Prints each step and
// the answer. Settings: ORCHESTRATOR_URL, REGISTRY_URL, API_KEY.
const orchestrator = process.env.ORCHESTRATOR_URL ?? 'http://localhost:8001';
const registry = process.env.REGISTRY_URL ?? 'http://localhost:8002';
const key = process.env.API_KEY ?? process.env.BOOTSTRAP_API_KEY ?? 'dev-local-key';
const headers = { authorization: `Bearer ${key}`, 'content-type': 'application/json' };

const workflow = {
  description:
    'Computes an expression with an agent that has the "calculate" skill, then explains the result in a language',
  steps: [
    {
      id: 'calculate',
      skill: 'calculate',
      input: 'Calculate ${input.expression}',
      retry: { attempts: 3, backoffMs: 500 },
    },
    {
      id: 'explain',
      skill: 'explain',
      dependsOn: ['calculate'],
      input: {
        language: '${input.language}',
        expression: '${input.expression}',
        result: '${steps.calculate.output.text}',
      },
      retry: { attempts: 3, backoffMs: 500 },
    },
  ],
  output: '${steps.explain.output.text}',
};

async function waitUntil(what, check, timeoutMs = 120_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check().catch(() => false)) return;
    if (Date.now() > deadline) throw new Error(`Timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 500));
  }
}

async function main() {
  await waitUntil('the orchestrator', async () => (await fetch(`${orchestrator}/ready`)).ok);
  for (const skill of ['calculate', 'explain']) {
    await waitUntil(
      `an agent with skill "${skill}" in the registry`,
      async () => (await fetch(`${registry}/agents/resolve?skill=${skill}`, { headers })).ok,
    );
  }
  const saved = await fetch(`${orchestrator}/workflows/calculate-and-explain`, {
    method: 'PUT',
    headers,
    body: JSON.stringify(workflow),
  });
  if (!saved.ok)
    throw new Error(`Saving the workflow failed: ${saved.status} ${await saved.text()}`);
  console.log('Request: Calculate 2+2 and explain in French');
  const response = await fetch(`${orchestrator}/workflows/calculate-and-explain/runs`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ input: { expression: '2+2', language: 'fr' }, wait: true }),
  });
  const run = await response.json();
  if (!response.ok)
    throw new Error(`The run could not start: ${response.status} ${JSON.stringify(run)}`);
  for (const step of run.steps) {
    console.log(
      `step ${step.stepId}: ${step.status} via ${step.agentUrl ?? '-'} -> ${step.output?.text ?? step.error ?? ''}`,
    );
  }
  console.log(`run ${run.id}: ${run.status}`);
  console.log(`Answer: ${run.output?.text ?? run.error}`);
  if (run.status !== 'completed') process.exitCode = 1;
}

main().catch((error) => {
  console.error(error.message);
  process.exitCode = 1;
});
