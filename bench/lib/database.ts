import pg from 'pg';

/** Runs one statement in the bench database, with the same connection settings as the apps. */
export async function benchSql(database: string, sql: string): Promise<void> {
  const client = new pg.Client({
    host: process.env.DATABASE_HOST ?? '127.0.0.1',
    port: Number(process.env.DATABASE_PORT ?? 5432),
    user: process.env.DATABASE_USER ?? 'postgres',
    password: process.env.DATABASE_PASSWORD ?? 'postgres',
    database,
  });
  await client.connect();
  try {
    await client.query(sql);
  } finally {
    await client.end();
  }
}
