import type { DataSource, EntityManager } from 'typeorm';

/**
 * Rows of a raw statement. TypeORM answers UPDATE and DELETE with
 * `[rows, affectedCount]` and everything else with the rows; callers that use
 * RETURNING want the rows either way.
 */
export async function queryRows<T>(
  executor: DataSource | EntityManager,
  sql: string,
  parameters: unknown[] = [],
): Promise<T[]> {
  const result = (await executor.query(sql, parameters)) as unknown;
  if (
    Array.isArray(result) &&
    result.length === 2 &&
    Array.isArray(result[0]) &&
    typeof result[1] === 'number'
  ) {
    return result[0] as T[];
  }
  return result as T[];
}
