import type { DatabaseConfig } from '@app/config';
import pg from 'pg';

const DUPLICATE_DATABASE = '42P04';

/** A fresh machine has PostgreSQL but not our database; create it through the maintenance database. */
export async function ensureDatabase(database: DatabaseConfig): Promise<void> {
  if (database.url) return;
  const client = new pg.Client({
    host: database.host,
    port: database.port,
    user: database.user,
    password: database.password,
    database: 'postgres',
    ssl: database.ssl ? { rejectUnauthorized: true } : false,
  });
  await client.connect();
  try {
    const found = await client.query('SELECT 1 FROM pg_database WHERE datname = $1', [
      database.name,
    ]);
    if (found.rowCount === 0) {
      await client.query(`CREATE DATABASE "${database.name}"`).catch((error: { code?: string }) => {
        if (error.code !== DUPLICATE_DATABASE) throw error;
      });
    }
  } finally {
    await client.end();
  }
}
