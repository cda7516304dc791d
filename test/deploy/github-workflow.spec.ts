import {
  convertWorkflowTemplate,
  NoOperationTraceWriter,
  parseWorkflow,
} from '@actions/workflow-parser';
import { describe, expect, it } from '@jest/globals';
import { execFileSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { parse, parseAllDocuments } from 'yaml';

const PATH = '.github/workflows/ci.yml';

interface Step {
  readonly uses?: string;
  readonly run?: string;
  readonly with?: Record<string, unknown>;
  readonly name?: string;
  readonly 'working-directory'?: string;
}

interface Job {
  readonly needs?: string | string[];
  readonly if?: string;
  readonly services?: Record<string, { image: string; ports?: string[] }>;
  readonly env?: Record<string, string>;
  readonly environment?: string;
  readonly permissions?: Record<string, string>;
  readonly steps: Step[];
}

interface Workflow {
  readonly on: Record<string, unknown>;
  readonly permissions?: Record<string, string>;
  readonly jobs: Record<string, Job>;
}

const content = readFileSync(PATH, 'utf8');
const workflow = parse(content) as Workflow;
const runs = (job: Job): string => job.steps.map((step) => step.run ?? '').join('\n');
const uses = (job: Job): string[] => job.steps.flatMap((step) => (step.uses ? [step.uses] : []));

describe('GitHub Actions workflow', () => {
  it('is a valid workflow for the GitHub Actions parser', async () => {
    const result = parseWorkflow({ name: PATH, content }, new NoOperationTraceWriter());
    expect(result.context.errors.getErrors().map((error) => error.message)).toEqual([]);
    expect(result.value).toBeDefined();
    const template = await convertWorkflowTemplate(result.context, result.value!);
    expect(template.errors ?? []).toEqual([]);
    expect(template.jobs.map((job) => job.id.value)).toEqual(['test', 'image', 'deploy']);
  });

  it('tests every push and pull request with PostgreSQL and Redis service containers', () => {
    expect(Object.keys(workflow.on)).toEqual(expect.arrayContaining(['push', 'pull_request']));
    const test = workflow.jobs.test;
    expect(test.services?.postgres.image).toMatch(/^postgres:\d+/);
    expect(test.services?.redis.image).toMatch(/^redis:\d+/);
    expect(test.services?.postgres.ports).toContain('5432:5432');
    expect(test.services?.redis.ports).toContain('6379:6379');
    // The same commands as .ci/run, against the service containers.
    const ci = readFileSync('.ci/run', 'utf8');
    for (const command of ['bash scripts/tools.sh', 'npm ci', 'npm test']) {
      expect(ci).toContain(command);
      expect(runs(test)).toContain(command);
    }
    expect(test.env).toEqual(
      expect.objectContaining({ DATABASE_HOST: '127.0.0.1', REDIS_HOST: '127.0.0.1' }),
    );
  });

  it('builds and pushes the image from the Dockerfile only after the tests pass, on pushes', () => {
    const image = workflow.jobs.image;
    expect(image.needs).toBe('test');
    expect(image.if).toContain("github.event_name == 'push'");
    expect(image.permissions).toEqual(expect.objectContaining({ packages: 'write' }));
    const build = image.steps.find((step) => step.uses?.startsWith('docker/build-push-action@'));
    expect(build?.with).toEqual(expect.objectContaining({ context: '.', push: true }));
    expect(existsSync('Dockerfile')).toBe(true);
    // Least privilege by default.
    expect(workflow.permissions).toEqual({ contents: 'read' });
  });

  it('deploys the prod overlay and waits for the rollout of every Deployment it holds', () => {
    const deploy = workflow.jobs.deploy;
    expect(deploy.needs).toBe('image');
    expect(deploy.environment).toBe('production');
    const commands = runs(deploy);
    expect(commands).toContain('kubectl apply -k kubernetes/overlays/prod');

    const objects = parseAllDocuments(
      execFileSync('kubectl', ['kustomize', 'kubernetes/overlays/prod'], { encoding: 'utf8' }),
    ).map((doc) => doc.toJS() as { kind: string; metadata: { name: string; namespace: string } });
    const deployments = objects.filter((object) => object.kind === 'Deployment');
    expect(deployments.length).toBeGreaterThan(0);
    const waited = /for deployment in ([\w\s-]+); do\s+kubectl -n (\S+) rollout status/.exec(
      commands,
    );
    expect(waited).not.toBeNull();
    expect(waited![1].trim().split(/\s+/).sort()).toEqual(
      deployments.map((deployment) => deployment.metadata.name).sort(),
    );
    for (const deployment of deployments) expect(deployment.metadata.namespace).toBe(waited![2]);

    // The image step rewrites the overlay's one image entry.
    const setImage = deploy.steps.find(
      (step) => step.name === 'Set the image' || step.run?.includes('newTag'),
    );
    expect(setImage?.['working-directory']).toBe('kubernetes/overlays/prod');
    const kustomization = parse(
      readFileSync('kubernetes/overlays/prod/kustomization.yaml', 'utf8'),
    ) as {
      images: Array<{ newName: string; newTag: string }>;
    };
    expect(kustomization.images).toHaveLength(1);
  });

  it('pins every action to a major version', () => {
    const all = Object.values(workflow.jobs).flatMap(uses);
    expect(all.length).toBeGreaterThan(0);
    for (const action of all) expect(action).toMatch(/^[\w-]+\/[\w-]+@v\d+$/);
  });
});
