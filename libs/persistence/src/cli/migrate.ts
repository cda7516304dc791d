import { loadPlatformConfig } from '@app/config';
import { DataSource } from 'typeorm';
import { buildDataSourceOptions } from '../data-source-options.js';
import { ensureDatabase } from '../ensure-database.js';
import { runMigrationsLocked } from '../migration-runner.js';

/**
 * `migrate run`: creates the database when it is missing, then applies pending migrations.
 * `migrate revert`: reverts the last applied migration. `migrate show`: lists pending ones.
 */
async function main(command: string | undefined): Promise<void> {
  const { database } = loadPlatformConfig('registry');
  if (command === 'run') await ensureDatabase(database);
  const dataSource = new DataSource(
    buildDataSourceOptions(database, { applicationName: 'a2a-migrations' }),
  );
  await dataSource.initialize();
  try {
    switch (command) {
      case 'run': {
        const applied = await runMigrationsLocked(dataSource);
        console.log(applied.length ? `Applied: ${applied.join(', ')}` : 'No pending migrations.');
        break;
      }
      case 'revert':
        await dataSource.undoLastMigration({ transaction: 'each' });
        break;
      case 'show': {
        const pending = await dataSource.showMigrations();
        console.log(pending ? 'There are pending migrations.' : 'No pending migrations.');
        break;
      }
      default:
        throw new Error(`usage: migrate run|revert|show (got ${command ?? 'nothing'})`);
    }
  } finally {
    await dataSource.destroy();
  }
}

main(process.argv[2]).catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exitCode = 1;
});
