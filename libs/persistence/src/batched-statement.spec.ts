import { loadPlatformConfig } from '@app/config';
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { DataSource } from 'typeorm';
import { BatchedStatement } from './batched-statement.js';
import { buildDataSourceOptions } from './data-source-options.js';
import { PreparedStatement, usePreparedStatements } from './prepared-statement.js';

describe('BatchedStatement (real PostgreSQL)', () => {
  const database = loadPlatformConfig('registry', process.env).database;
  let dataSource: DataSource;
  const sent: string[] = [];
  // Doubles each input; an input of 0 matches no row, a negative one fails the statement.
  const double = new BatchedStatement<{ x: number }, { i: number; doubled: number }>(
    'test.batched-double',
    `SELECT c.i, c.x * 2 AS doubled FROM jsonb_to_recordset($1::jsonb) AS c(i int, x int)
     WHERE c.x <> 0 AND (c.x > 0 OR 1 / (c.x + 1) = 1)`,
    (a, b) => a.x - b.x,
  );

  beforeAll(async () => {
    dataSource = await new DataSource({
      ...buildDataSourceOptions(database),
      extra: { max: 2 },
    }).initialize();
    usePreparedStatements(dataSource, true);
    const rows = PreparedStatement.prototype.rows;
    jest.spyOn(PreparedStatement.prototype, 'rows').mockImplementation(function (
      this: PreparedStatement<unknown>,
      source,
      values,
    ) {
      sent.push(values[0] as string);
      return rows.call(this, source, values);
    });
  });

  afterAll(async () => {
    jest.restoreAllMocks();
    await dataSource.destroy();
  });

  it('sends the calls of one turn as one statement, in order, and gives each caller its rows', async () => {
    sent.length = 0;
    const results = await Promise.all([3, 1, 0, 2].map((x) => double.rows(dataSource, { x })));
    expect(results).toEqual([[{ doubled: 6 }], [{ doubled: 2 }], [], [{ doubled: 4 }]]);
    expect(sent).toHaveLength(1);
    expect((JSON.parse(sent[0]) as Array<{ x: number }>).map((input) => input.x)).toEqual([
      0, 1, 2, 3,
    ]);
  });

  it('sends calls of later turns in statements of their own', async () => {
    sent.length = 0;
    const first = double.rows(dataSource, { x: 5 });
    await nextTurn();
    await nextTurn();
    const second = double.rows(dataSource, { x: 6 });
    expect(await Promise.all([first, second])).toEqual([[{ doubled: 10 }], [{ doubled: 12 }]]);
    expect(sent).toHaveLength(2);
  });

  it('fails every call of a statement that fails, and only those', async () => {
    const together = [double.rows(dataSource, { x: 7 }), double.rows(dataSource, { x: -1 })];
    await expect(together[0]).rejects.toThrow(/division by zero/);
    await expect(together[1]).rejects.toThrow(/division by zero/);
    await nextTurn();
    expect(await double.rows(dataSource, { x: 8 })).toEqual([{ doubled: 16 }]);
  });
});
