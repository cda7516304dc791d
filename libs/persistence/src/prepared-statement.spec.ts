import { loadPlatformConfig } from '@app/config';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from './data-source-options.js';
import { PreparedStatement, usePreparedStatements } from './prepared-statement.js';

describe('PreparedStatement (real PostgreSQL)', () => {
  const database = loadPlatformConfig('registry', process.env).database;
  let prepared: DataSource;
  let plain: DataSource;
  const statement = new PreparedStatement<{ doubled: number; name: string }>(
    'test.double',
    'SELECT $1::int * 2 AS doubled, $2::text AS name',
  );
  const preparedNames = async (dataSource: DataSource) =>
    (
      await (
        dataSource.driver as unknown as {
          master: { query(sql: string): Promise<{ rows: Array<{ name: string }> }> };
        }
      ).master.query('SELECT name FROM pg_prepared_statements')
    ).rows.map((row) => row.name);

  beforeAll(async () => {
    prepared = await new DataSource({
      ...buildDataSourceOptions(database),
      extra: { max: 1 },
    }).initialize();
    plain = await new DataSource({
      ...buildDataSourceOptions(database),
      extra: { max: 1 },
    }).initialize();
    usePreparedStatements(prepared, true);
    usePreparedStatements(plain, false);
  });

  afterAll(async () => {
    await Promise.all([prepared.destroy(), plain.destroy()]);
  });

  it('runs as a named statement, prepared once per connection and reused', async () => {
    expect(await statement.rows(prepared, [21, 'a'])).toEqual([{ doubled: 42, name: 'a' }]);
    expect(await statement.rows(prepared, [2, 'b'])).toEqual([{ doubled: 4, name: 'b' }]);
    expect(await preparedNames(prepared)).toEqual(['test.double']);
  });

  it('is an ordinary query where prepared statements are turned off', async () => {
    expect(await statement.rows(plain, [5, 'c'])).toEqual([{ doubled: 10, name: 'c' }]);
    expect(await preparedNames(plain)).toEqual([]);
  });

  it('passes PostgreSQL errors on', async () => {
    await expect(statement.rows(prepared, ['not a number', 'd'])).rejects.toMatchObject({
      code: '22P02',
    });
  });
});
