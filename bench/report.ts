import { execFileSync, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, totalmem } from 'node:os';

/**
 * `npm run bench`: runs every benchmark, one after the other on an otherwise
 * idle machine, and writes their sections to bench/report.md with the
 * machine they ran on. Each benchmark measures its baseline in the same run.
 */
const BENCHES = [
  'dist-bench/bench/a2a-host.bench.js',
  'dist-bench/bench/registry-discovery.bench.js',
  'dist-bench/bench/orchestrator-steps.bench.js',
  'dist-bench/bench/resources.bench.js',
];

function commit(): string {
  try {
    return execFileSync('git', ['rev-parse', '--short', 'HEAD'], { encoding: 'utf8' }).trim();
  } catch {
    return 'unknown';
  }
}

const sections: string[] = [];
let failed = false;
for (const bench of BENCHES) {
  const started = Date.now();
  const result = spawnSync(process.execPath, [bench], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 16 * 1024 * 1024,
  });
  const seconds = Math.round((Date.now() - started) / 1000);
  if (result.status !== 0) {
    failed = true;
    sections.push(`## ${bench}\n\nFailed (exit ${result.status}) after ${seconds} s.`);
  } else {
    sections.push(result.stdout.trim());
  }
  process.stdout.write(`${result.stdout.trim()}\n\n`);
}

const cpu = cpus();
const report = `# Benchmark report

Measured ${new Date().toISOString().slice(0, 16).replace('T', ' ')} UTC at commit ${commit()} on ${cpu.length} x ${cpu[0]?.model ?? 'unknown CPU'}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; PostgreSQL and Redis on the same machine, load generated there too. Every ratio compares figures measured in this run. Regenerate with \`npm run bench\`.

${sections.join('\n\n')}
`;
writeFileSync('bench/report.md', report);
process.stdout.write('bench/report.md written\n');
if (failed) process.exitCode = 1;
