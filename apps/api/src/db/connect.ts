/**
 * Which database a command on a data folder uses: DATABASE_URL when set; else the embedded
 * database that `strata serve` runs for that folder (through its socket); else — for commands
 * that may run alone, like `strata token` — PGlite opened in this process.
 */
import { ensureApiSchema, openStore, type Store } from '@strata/core/store';
import type { Env } from '../env.js';
import { runningEmbeddedDatabase } from './embedded-info.js';

/** The URL workers connect to, or an error saying how to get one. */
export function databaseUrlFor(env: Env, dataDir: string): string {
  if (env.DATABASE_URL) return env.DATABASE_URL;
  const running = runningEmbeddedDatabase(dataDir);
  if (running) return running.url;
  throw new Error(`no database to work on: set DATABASE_URL, or start \`strata serve --data ${dataDir}\` first (its embedded database is shared through ${dataDir}/embedded-db.json)`);
}

/** A store with the API's tables, on the database of `dataDir` as described above. */
export async function openApiStore(env: Env, dataDir: string): Promise<Store> {
  const url = env.DATABASE_URL ?? runningEmbeddedDatabase(dataDir)?.url;
  const store = await openStore(url ? { databaseUrl: url, dataDir } : { dataDir });
  try {
    await ensureApiSchema(store);
    return store;
  } catch (error) {
    await store.close();
    throw error;
  }
}
