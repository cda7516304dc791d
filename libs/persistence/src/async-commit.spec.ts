import { loadPlatformConfig } from '@app/config';
import { commitModeAfter } from '@app/testing';
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { randomUUID } from 'node:crypto';
import { DataSource } from 'typeorm';
import { asyncCommitWhen, flushWal, walBarrierAvailable } from './async-commit.js';
import { buildDataSourceOptions } from './data-source-options.js';

describe('asynchronous commits and the WAL barrier (real PostgreSQL)', () => {
  const database = loadPlatformConfig('registry', process.env).database;
  // A table of this run's own: a temporary one writes no WAL.
  const table = `wal_probe_${randomUUID().replace(/-/g, '').slice(0, 12)}`;
  let dataSource: DataSource;

  beforeAll(async () => {
    dataSource = await new DataSource(buildDataSourceOptions(database)).initialize();
    await dataSource.query(`CREATE TABLE ${table} (id int PRIMARY KEY)`);
  });

  afterAll(async () => {
    await dataSource?.query(`DROP TABLE IF EXISTS ${table}`);
    await dataSource?.destroy();
  });

  /** Writes one row in a statement that evaluates `expression`; the commit mode it left. */
  const commitModeOf = (expression: string): Promise<string> =>
    commitModeAfter(dataSource, [[`INSERT INTO ${table} VALUES (1) RETURNING ${expression}`]]);

  it('a statement turns its own transaction asynchronous, when its condition holds', async () => {
    expect(await commitModeOf(asyncCommitWhen())).toBe('off');
    expect(await commitModeOf(asyncCommitWhen('1 = 2'))).toBe('on');
    // The next transaction is back to the server's setting.
    const [row] =
      await dataSource.query<Array<{ synchronous_commit: string }>>('SHOW synchronous_commit');
    expect(row.synchronous_commit).toBe('on');
  });

  it('flushWal returns once an asynchronous commit made before it is flushed', async () => {
    await dataSource.query(`INSERT INTO ${table} VALUES (2) RETURNING ${asyncCommitWhen()}`);
    // Past the commit's record.
    const [{ lsn }] = await dataSource.query<Array<{ lsn: string }>>(
      'SELECT pg_current_wal_insert_lsn()::text AS lsn',
    );
    await flushWal(dataSource);
    const [{ flushed }] = await dataSource.query<Array<{ flushed: boolean }>>(
      'SELECT pg_current_wal_flush_lsn() >= $1::pg_lsn AS flushed',
      [lsn],
    );
    expect(flushed).toBe(true);
  });

  it('the barrier is available, except to a role that may not emit the message', async () => {
    expect(await walBarrierAvailable(dataSource)).toBe(true);
    // A role of its own, without EXECUTE on pg_logical_emit_message in a database of its own.
    const suffix = randomUUID().replace(/-/g, '').slice(0, 12);
    const role = `wal_probe_role_${suffix}`;
    const databaseName = `${database.name}_wal_${suffix}`.slice(0, 63);
    await dataSource.query(`CREATE ROLE ${role} LOGIN`);
    await dataSource.query(`CREATE DATABASE ${databaseName}`);
    const owner = await new DataSource(
      buildDataSourceOptions({ ...database, name: databaseName }),
    ).initialize();
    let restricted: DataSource | undefined;
    try {
      await owner.query(
        'REVOKE EXECUTE ON FUNCTION pg_logical_emit_message(boolean, text, text) FROM PUBLIC',
      );
      restricted = await new DataSource(
        buildDataSourceOptions({ ...database, name: databaseName, user: role }),
      ).initialize();
      expect(await walBarrierAvailable(restricted)).toBe(false);
    } finally {
      await restricted?.destroy();
      await owner.destroy();
      await dataSource.query(`DROP DATABASE IF EXISTS ${databaseName}`);
      await dataSource.query(`DROP ROLE IF EXISTS ${role}`);
    }
  });

  it('the calls of one turn share one barrier; a later call waits for one of its own', async () => {
    const calls = Array.from({ length: 20 }, () => flushWal(dataSource));
    expect(new Set(calls).size).toBe(1);
    await Promise.all(calls);
    // Sent before this caller's commits, that barrier would not cover them.
    const later = flushWal(dataSource);
    expect(later).not.toBe(calls[0]);
    await later;
  });
});
