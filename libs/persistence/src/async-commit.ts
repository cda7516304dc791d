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
