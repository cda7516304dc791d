import { Logger } from '@nestjs/common';
import type { DataSource } from 'typeorm';
import { PreparedStatement } from './prepared-statement.js';

/**
 * A SQL expression that makes the transaction of the statement evaluating it
 * commit asynchronously when `condition` holds: `SET LOCAL synchronous_commit
 * = off` from within that one statement, so that it costs no round trip. The
 * commit then returns before its WAL reaches the disk (or a synchronous
 * standby); a crash of PostgreSQL within about a second can lose it, never
 * corrupt anything, and always loses a suffix: a transaction committed later
 * synchronously has flushed every earlier one.
 *
 * Only for writes whose loss the system repairs by itself. Evaluate it where
 * the statement always evaluates it when it writes, a data-modifying CTE's or
 * the statement's RETURNING list (one value per written row).
 */
export function asyncCommitWhen(condition = 'true'): string {
  return `set_config('synchronous_commit', CASE WHEN ${condition} THEN 'off' ELSE current_setting('synchronous_commit') END, true)`;
}

/**
 * An empty transactional message to logical decoding: a WAL record, so that
 * its transaction's commit is flushed (synchronously, as the server is
 * configured), and with it every commit before it.
 */
const FLUSH_WAL = new PreparedStatement<{ lsn: string }>(
  'persistence.flush-wal',
  `SELECT pg_logical_emit_message(true, 'a2a-platform', '') AS lsn`,
);

const nextFlush = new WeakMap<DataSource, Promise<void>>();
const barrierAvailable = new WeakMap<DataSource, boolean>();
/** insufficient_privilege (EXECUTE revoked from the role), undefined_function. */
const BARRIER_REFUSED = new Set(['42501', '42883']);
const logger = new Logger('WalBarrier');

/**
 * Whether flushWal works on this database for this role (asked once, by
 * flushing): `pg_logical_emit_message` is executable by every role unless a
 * server revoked it. Where it is refused, work that would commit
 * asynchronously and then wait for flushWal must commit synchronously.
 */
export async function walBarrierAvailable(dataSource: DataSource): Promise<boolean> {
  const known = barrierAvailable.get(dataSource);
  if (known !== undefined) return known;
  try {
    await FLUSH_WAL.rows(dataSource, []);
    barrierAvailable.set(dataSource, true);
  } catch (error) {
    if (!BARRIER_REFUSED.has((error as { code?: string }).code ?? '')) throw error;
    barrierAvailable.set(dataSource, false);
    logger.warn(
      `No WAL barrier (${(error as Error).message}): what it would flush commits synchronously`,
    );
  }
  return barrierAvailable.get(dataSource) === true;
}

/**
 * Returns once every commit made before the call, asynchronous ones
 * included, is as durable as a synchronous commit: the barrier for work
 * committed asynchronously that a caller is about to be told of. The calls
 * of one turn of the event loop share one barrier, sent after all of them.
 */
export function flushWal(dataSource: DataSource): Promise<void> {
  let flush = nextFlush.get(dataSource);
  if (flush === undefined) {
    flush = new Promise<void>((resolve) => setImmediate(resolve))
      .then(() => {
        nextFlush.delete(dataSource);
        return FLUSH_WAL.rows(dataSource, []);
      })
      .then(() => undefined);
    nextFlush.set(dataSource, flush);
  }
  return flush;
}
