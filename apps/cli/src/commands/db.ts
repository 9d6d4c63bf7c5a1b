import type { Command } from 'commander';
import { defaultDataDir, openStore, redactUrl, type OpenStoreOptions, type Store } from '@strata/core/store';

/**
 * Where the store is: --data (or $STRATA_DATA_DIR, $XDG_DATA_HOME/strata, ~/.local/share/strata)
 * for the data folder, and DATABASE_URL for a Postgres server instead of the embedded database.
 */
export function storeOptions(options: { data?: string }): Pick<OpenStoreOptions, 'dataDir' | 'databaseUrl'> {
  const databaseUrl = process.env.DATABASE_URL;
  return { dataDir: options.data ?? defaultDataDir(process.env), ...(databaseUrl ? { databaseUrl } : {}) };
}

export const DATA_OPTION = ['--data <dir>', 'data folder (default: $STRATA_DATA_DIR, else $XDG_DATA_HOME/strata or ~/.local/share/strata); DATABASE_URL=postgres://... uses a server instead of the embedded database'] as const;

function describe(store: Store): string {
  return store.backend === 'pglite' ? `embedded database in ${store.location}` : `Postgres server ${redactUrl(store.location)}`;
}

export function registerDb(program: Command): void {
  const db = program.command('db').description('the feature store: migrations and what it holds');

  db.command('migrate')
    .description('apply pending migrations (prisma/migrations) to the store; safe to run again')
    .option(...DATA_OPTION)
    .action(async (options: { data?: string }) => {
      const store = await openStore({ ...storeOptions(options), migrate: 'skip' });
      try {
        const report = await store.migrate();
        for (const name of report.applied) console.log(`applied ${name}`);
        if (report.applied.length === 0) console.log(`${describe(store)} is up to date (${report.alreadyApplied.length} migrations)`);
        else console.log(`${describe(store)}: ${report.applied.length} migration(s) applied`);
        if (report.unknown.length > 0) console.log(`note: the database also has migrations this Strata does not know: ${report.unknown.join(', ')}`);
      } finally {
        await store.close();
      }
    });

  db.command('status')
    .description('migrations, datasets, layers and vector counts')
    .option(...DATA_OPTION)
    .option('--json', 'print JSON')
    .action(async (options: { data?: string; json?: boolean }) => {
      const store = await openStore({ ...storeOptions(options), migrate: 'skip' });
      try {
        const migrations = await store.migrationStatus();
        const datasets = migrations.pending.length === 0 ? await store.listDatasets() : [];
        if (options.json) {
          console.log(JSON.stringify({ backend: store.backend, location: store.location, migrations, datasets }, null, 1));
          return;
        }
        console.log(describe(store));
        console.log(`migrations: ${migrations.applied.length} applied, ${migrations.pending.length} pending${migrations.pending.length > 0 ? ' (run `strata db migrate`)' : ''}`);
        for (const dataset of datasets) {
          console.log(`${dataset.name}: ${dataset.storedImages}/${dataset.imageCount} images from ${dataset.sourcePath}, model ${dataset.model.name} (${dataset.model.sha256.slice(0, 12)}…)`);
          for (const layer of dataset.layers) {
            console.log(`  ${layer.layer.padEnd(7)} ${layer.status.padEnd(9)} ${layer.vectorCount} x ${layer.components}  indexes: ${layer.indexes.join(', ') || 'none'}`);
          }
        }
      } finally {
        await store.close();
      }
    });
}
