/**
 * Throwaway databases on a Postgres server, for tests and benchmarks that must not see each
 * other's data: CREATE DATABASE with a unique name, DROP ... WITH (FORCE) afterwards.
 */
import pg from 'pg';
import { redactUrl } from './backend.js';

export interface ScratchDatabase {
  /** URL of the new database (the server's URL with its name). */
  readonly url: string;
  readonly name: string;
  drop(): Promise<void>;
}

async function withClient<T>(url: string, task: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  try {
    await client.connect();
  } catch (error) {
    throw new Error(`cannot connect to ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  try {
    return await task(client);
  } finally {
    await client.end();
  }
}

export async function createScratchDatabase(serverUrl: string, prefix = 'strata_scratch'): Promise<ScratchDatabase> {
  if (!/^[a-z_][a-z0-9_]*$/.test(prefix)) throw new RangeError(`database name prefix must match [a-z_][a-z0-9_]*, got "${prefix}"`);
  const name = `${prefix}_${process.pid}_${Date.now().toString(36)}_${Math.floor(Math.random() * 1e6).toString(36)}`;
  await withClient(serverUrl, (client) => client.query(`CREATE DATABASE "${name}"`));
  const url = new URL(serverUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    name,
    drop: () => withClient(serverUrl, (client) => client.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)).then(() => undefined),
  };
}
