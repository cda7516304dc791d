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
