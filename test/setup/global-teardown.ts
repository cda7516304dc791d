import { Redis } from 'ioredis';
import pg from 'pg';

/** Drops the run's databases and deletes the run's Redis keys. */
export default async function globalTeardown(): Promise<void> {
  const database = process.env.DATABASE_NAME;
  const prefix = process.env.REDIS_KEY_PREFIX;
  if (database?.startsWith('a2a_test_')) {
    const client = new pg.Client({
      host: process.env.DATABASE_HOST ?? '127.0.0.1',
      port: Number(process.env.DATABASE_PORT ?? 5432),
      user: process.env.DATABASE_USER ?? 'postgres',
      password: process.env.DATABASE_PASSWORD ?? 'postgres',
      database: 'postgres',
    });
    await client.connect();
    // The run's database, and those test files made for themselves (isolatedDatabase).
    const { rows } = await client.query<{ datname: string }>(
      `SELECT datname FROM pg_database WHERE datname = $1 OR starts_with(datname, $1 || '_')`,
      [database],
    );
    for (const { datname } of rows)
      await client.query(`DROP DATABASE IF EXISTS "${datname}" WITH (FORCE)`);
    await client.end();
  }
  if (prefix?.startsWith('a2a-test-')) {
    const redis = new Redis({
      host: process.env.REDIS_HOST ?? '127.0.0.1',
      port: Number(process.env.REDIS_PORT ?? 6379),
    });
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}*`, 'COUNT', 1000);
      if (keys.length > 0) await redis.unlink(...keys);
      cursor = next;
    } while (cursor !== '0');
    await redis.quit();
  }
}
