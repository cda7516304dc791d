import { Logger } from '@nestjs/common';
import type { Pool } from 'pg';
import type { DataSource } from 'typeorm';
import { queryRows } from './query-rows.js';

const SLOW_QUERY_MS = 1_000;
const preparing = new WeakMap<DataSource, boolean>();
const logger = new Logger('TypeORM');

/**
 * Whether statements of {@link PreparedStatement} are prepared on this data
 * source's connections (`DATABASE_PREPARED_STATEMENTS`): off behind a pooler
 * that does not keep prepared statements across transactions (PgBouncer in
 * transaction mode before 1.21).
 */
export function usePreparedStatements(dataSource: DataSource, enabled: boolean): void {
  preparing.set(dataSource, enabled);
}

/**
 * A statement of a hot path, prepared once per connection (a named prepared
 * statement): PostgreSQL parses and plans it the first time a connection runs
 * it, not on every call. The text must be constant; its parameters vary.
 * Runs outside any transaction, on a connection of the pool; on a data
 * source that does not prepare statements it is an ordinary query.
 */
export class PreparedStatement<T> {
  constructor(
    /** Unique in the process: PostgreSQL knows a prepared statement by its name. */
    readonly name: string,
    readonly text: string,
  ) {}

  async rows(dataSource: DataSource, values: unknown[]): Promise<T[]> {
    // Not connected yet (PostgreSQL away at start-up): TypeORM answers with its own error.
    if (preparing.get(dataSource) !== true || !dataSource.isInitialized)
      return queryRows<T>(dataSource, this.text, values);
    const pool = (dataSource.driver as unknown as { master: Pool }).master;
    const started = performance.now();
    try {
      const result = await pool.query<T & object>({ name: this.name, text: this.text, values });
      return result.rows;
    } catch (error) {
      logger.warn(`Query failed: ${(error as Error).message} -- ${this.name}`);
      throw error;
    } finally {
      const elapsed = performance.now() - started;
      if (elapsed > SLOW_QUERY_MS)
        logger.warn(`Slow query (${Math.round(elapsed)} ms): ${this.name}`);
    }
  }
}
