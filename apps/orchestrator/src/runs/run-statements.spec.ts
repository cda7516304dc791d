import { queryRows } from '@app/persistence';
import { commitModeAfter, openTestDataSource, useIsolatedDatabase } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import type { PoolClient } from 'pg';
import type { DataSource, QueryRunner } from 'typeorm';
import { CLAIM_STEPS, COMPLETE_LEAF, COMPLETE_STEP, LIST_RUNS, START_RUN } from './runs.service.js';

useIsolatedDatabase('run_statements');

interface PlanNode {
  'Node Type': string;
  'Index Name'?: string;
  'Actual Rows'?: number;
  'Actual Loops'?: number;
  'Rows Removed by Filter'?: number;
  'Rows Removed by Index Recheck'?: number;
  'Shared Hit Blocks'?: number;
  'Shared Read Blocks'?: number;
  Plans?: PlanNode[];
}

/** The buffers a statement's plan read (a node's count includes its children's). */
function buffersRead(plan: PlanNode): number {
  return (plan['Shared Hit Blocks'] ?? 0) + (plan['Shared Read Blocks'] ?? 0);
}

/** Every row a plan's nodes looked at and dropped: what a statement pays beyond its answer. */
function rowsDiscarded(node: PlanNode): number {
  const own =
    ((node['Rows Removed by Filter'] ?? 0) + (node['Rows Removed by Index Recheck'] ?? 0)) *
    (node['Actual Loops'] ?? 1);
  return own + (node.Plans ?? []).reduce((sum, child) => sum + rowsDiscarded(child), 0);
}

/**
 * The hot statements of step execution find their run and steps by key,
 * however many runs are active, also when the planner's statistics were
 * taken before the current burst of runs (all of them finished then) and
 * the index of active steps holds the dead entries of a burst that finished
 * since (autovacuum has not been by).
 */
describe('step statements under a burst of runs (real PostgreSQL)', () => {
  const ACTIVE = 400;
  let dataSource: DataSource;
  const definition = {
    steps: [
      { id: 'first', skill: 'echo', input: 'x' },
      { id: 'second', skill: 'echo', input: 'y', dependsOn: ['first'] },
    ],
  };

  const insertRuns = async (count: number, status: string): Promise<string[]> => {
    const rows = await dataSource.query<Array<{ id: string }>>(
      `WITH runs AS (
         INSERT INTO workflow_runs (tenant_id, workflow_name, workflow_version, definition, input, status, remaining_steps)
         SELECT 'plans', 'two-steps', 1, $1, '{}', $2::varchar, CASE WHEN $2::varchar = 'running' THEN 2 ELSE 0 END
         FROM generate_series(1, $3) RETURNING id
       ), steps AS (
         INSERT INTO step_runs (run_id, tenant_id, step_id, status, remaining_deps, output)
         SELECT id, 'plans', s.step_id,
           CASE WHEN $2::varchar = 'running' THEN s.active ELSE 'completed' END,
           CASE WHEN $2::varchar = 'running' AND s.step_id = 'second' THEN 1 ELSE 0 END,
           CASE WHEN $2::varchar = 'running' THEN NULL ELSE '{"text": "done"}'::jsonb END
         FROM runs, (VALUES ('first', 'ready'), ('second', 'pending')) AS s(step_id, active)
       )
       SELECT id FROM runs`,
      [definition, status, count],
    );
    return rows.map((row) => row.id);
  };

  /** The batched claim's parameter: one claim per [run, step], for attempt 1. */
  const claims = (...steps: Array<[string, string]>): string =>
    JSON.stringify(
      steps.map(([run_id, step_id], i) => ({
        i,
        run_id,
        step_id,
        tenant_id: 'plans',
        attempt: 1,
        status: 'ready',
      })),
    );

  const explain = async (
    runner: QueryRunner,
    text: string,
    values: unknown[],
  ): Promise<PlanNode> => {
    const [row] = await runner.manager.query<Array<{ 'QUERY PLAN': Array<{ Plan: PlanNode }> }>>(
      `EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) ${text}`,
      values,
    );
    return row['QUERY PLAN'][0].Plan;
  };

  beforeAll(async () => {
    dataSource = await openTestDataSource();
    // Statistics from a quiet time (every run finished), kept while the burst arrives.
    await dataSource.query('ALTER TABLE workflow_runs SET (autovacuum_enabled = false)');
    await dataSource.query('ALTER TABLE step_runs SET (autovacuum_enabled = false)');
    await insertRuns(2_000, 'completed');
    await dataSource.query('ANALYZE workflow_runs');
    await dataSource.query('ANALYZE step_runs');
    const finished = await insertRuns(1_000, 'running');
    await dataSource.query(
      `UPDATE step_runs SET status = 'completed', output = '{"text": "done"}' WHERE run_id = ANY($1::uuid[])`,
      [finished],
    );
    await dataSource.query(
      `UPDATE workflow_runs SET status = 'completed' WHERE id = ANY($1::uuid[])`,
      [finished],
    );
    await insertRuns(ACTIVE, 'running');
  });

  afterAll(async () => {
    await dataSource?.destroy();
  });

  it('a claim, a completion and a leaf completion each touch their own rows only', async () => {
    const [runId] = await insertRuns(1, 'running');
    // Inside a transaction rolled back at the end: EXPLAIN ANALYZE runs the statements.
    const runner = dataSource.createQueryRunner();
    await runner.startTransaction();
    try {
      const claim = await explain(runner, CLAIM_STEPS.text, [
        claims([runId, 'first'], [randomUUID(), 'first']),
      ]);
      expect(claim['Actual Rows']).toBe(1);
      expect(rowsDiscarded(claim)).toBeLessThan(10);
      expect(buffersRead(claim)).toBeLessThan(60);

      const complete = await explain(runner, COMPLETE_STEP.text, [
        runId,
        'first',
        { text: 'one' },
        'http://agent',
        null,
        ['second'],
      ]);
      expect(rowsDiscarded(complete)).toBeLessThan(10);
      expect(buffersRead(complete)).toBeLessThan(60);

      await runner.query(
        `UPDATE step_runs SET status = 'running' WHERE run_id = $1 AND step_id = 'second'`,
        [runId],
      );
      const leaf = await explain(runner, COMPLETE_LEAF.text, [
        runId,
        'second',
        { text: 'two' },
        'http://agent',
        null,
        { text: 'two' },
      ]);
      expect(rowsDiscarded(leaf)).toBeLessThan(10);
      expect(buffersRead(leaf)).toBeLessThan(60);
      const [run] = await runner.manager.query<Array<{ status: string; remaining_steps: number }>>(
        'SELECT status, remaining_steps FROM workflow_runs WHERE id = $1',
        [runId],
      );
      expect(run).toEqual({ status: 'completed', remaining_steps: 0 });
    } finally {
      await runner.rollbackTransaction();
      await runner.release();
    }
  });

  it('starts, claims and completions that leave the run running commit asynchronously, the one that finishes it does not', async () => {
    /** The commit mode the statement leaves its transaction in (rolled back). */
    const commitAfter = (runId: string, text: string, values: unknown[], before?: string) =>
      commitModeAfter(
        dataSource,
        before
          ? [
              [before, [runId]],
              [text, values],
            ]
          : [[text, values]],
      );
    const [runId] = await insertRuns(1, 'running');
    const running = `UPDATE step_runs SET status = 'running' WHERE run_id = $1`;
    const output = { text: 'done' };
    // A run starts asynchronously where its caller can be answered after a WAL barrier.
    const start = (asynchronously: boolean) => [
      'plans',
      'two-steps',
      1,
      definition,
      {},
      ['first', 'second'],
      ['ready', 'pending'],
      [0, 1],
      2,
      asynchronously,
    ];
    expect(await commitAfter(runId, START_RUN.text, start(true))).toBe('off');
    expect(await commitAfter(runId, START_RUN.text, start(false))).toBe('on');
    expect(await commitAfter(runId, CLAIM_STEPS.text, [claims([runId, 'first'])])).toBe('off');
    expect(
      await commitAfter(
        runId,
        COMPLETE_STEP.text,
        [runId, 'first', output, 'http://agent', null, ['second']],
        running,
      ),
    ).toBe('off');
    // A leaf whose run has steps left, or whose caller does not know the run's output.
    expect(
      await commitAfter(
        runId,
        COMPLETE_LEAF.text,
        [runId, 'second', output, 'http://agent', null, null],
        running,
      ),
    ).toBe('off');
    // The leaf that finishes the run: the server's own setting.
    expect(
      await commitAfter(
        runId,
        COMPLETE_LEAF.text,
        [runId, 'second', output, 'http://agent', null, output],
        running,
      ),
    ).toBe('on');
    // Nothing written, nothing changed.
    expect(await commitAfter(runId, CLAIM_STEPS.text, [claims([randomUUID(), 'first'])])).toBe(
      'on',
    );
  });

  it('PostgreSQL keeps generic plans for claims and completions instead of planning each one', async () => {
    const runner = dataSource.createQueryRunner();
    const client = (await runner.connect()) as PoolClient;
    try {
      for (let n = 0; n < 12; n++) {
        const [runId] = await insertRuns(1, 'running');
        await client.query({
          name: 'claim-under-test',
          text: CLAIM_STEPS.text,
          values: [claims([runId, 'first'])],
        });
        await client.query({
          name: 'completion-under-test',
          text: COMPLETE_STEP.text,
          values: [runId, 'first', { text: 'one' }, 'http://agent', null, ['second']],
        });
      }
      const { rows } = await client.query<{ name: string; generic_plans: string }>(
        `SELECT name, generic_plans FROM pg_prepared_statements WHERE name LIKE '%-under-test' ORDER BY name`,
      );
      // PostgreSQL plans the first five executions for their parameters, then compares.
      expect(rows.map((row) => [row.name, Number(row.generic_plans)])).toEqual([
        ['claim-under-test', 7],
        ['completion-under-test', 7],
      ]);
    } finally {
      await runner.release();
    }
  });

  it('a listing reads its page and counts up to the cap, however many runs the tenant has', async () => {
    await dataSource.query(
      `INSERT INTO workflow_runs (tenant_id, workflow_name, workflow_version, definition, input, status, remaining_steps, created_at)
       SELECT 'listing', 'two-steps', 1, $1, '{}', 'completed', 0, now() - n * interval '1 second'
       FROM generate_series(1, 1000) AS n`,
      [definition],
    );
    const maxRows = (node: PlanNode): number =>
      Math.max(node['Actual Rows'] ?? 0, ...(node.Plans ?? []).map(maxRows));
    const runner = dataSource.createQueryRunner();
    try {
      const plan = await explain(runner, LIST_RUNS, ['listing', null, null, 20, 40, 100]);
      // The count stops at the cap and one more; the page reads the runs before it and itself.
      expect(maxRows(plan)).toBeLessThanOrEqual(101);
    } finally {
      await runner.release();
    }
    const page = await queryRows<{ total: string; created_at: Date | null }>(
      dataSource,
      LIST_RUNS,
      ['listing', null, null, 20, 40, 100],
    );
    expect(page).toHaveLength(20);
    expect(page.every((row) => row.total === '101')).toBe(true);
    const times = page.map((row) => row.created_at!.getTime());
    expect(times).toEqual([...times].sort((a, b) => b - a));
    // Past the end: the count alone.
    const past = await queryRows<{ total: string; id: string | null }>(dataSource, LIST_RUNS, [
      'listing',
      null,
      null,
      20,
      5_000,
      10_000,
    ]);
    expect(past).toEqual([expect.objectContaining({ total: '1000', id: null })]);
  });

  it('an unknown run claims nothing', async () => {
    const rows = await queryRows(dataSource, CLAIM_STEPS.text, [claims([randomUUID(), 'first'])]);
    expect(rows).toEqual([]);
  });
});
