/**
 * The two databases the store runs on, behind one Prisma client: embedded PGlite (Postgres 18
 * compiled to WASM, with pgvector) in the data folder, or a Postgres server with pgvector named
 * by a postgres:// URL. Besides the client, each gives a raw connection for migration scripts
 * (several statements in one transaction, which Prisma's API cannot send).
 */
import { mkdirSync } from 'node:fs';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { PrismaPg } from '@prisma/adapter-pg';
import pg from 'pg';
import { PrismaPGlite } from 'pglite-prisma-adapter';
import { lockDirectory } from './data-dir.js';
import { PrismaClient } from './generated/client.js';

export type BackendKind = 'pglite' | 'postgres';

/** One connection that runs a migration: its statements and its bookkeeping commit together. */
export interface ScriptConnection {
  /** Runs SQL text that may hold several statements. */
  exec(sql: string): Promise<void>;
  query<Row>(sql: string, params?: readonly unknown[]): Promise<Row[]>;
}

export interface Backend {
  readonly kind: BackendKind;
  /** Where the data is, for messages: a folder, or the URL without its password. */
  readonly location: string;
  readonly prisma: PrismaClient;
  /** True when the database is one connection in this process (PGlite): callers must queue. */
  readonly exclusive: boolean;
  /** Runs `task` in one transaction on one connection, holding Prisma's migration lock on a server. */
  withScriptTransaction<T>(task: (connection: ScriptConnection) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

/** Prisma's advisory lock key for migrations (`migrate deploy` takes the same one). */
const PRISMA_MIGRATION_LOCK = 72707369;

export async function openPgliteBackend(dir: string): Promise<Backend> {
  mkdirSync(dir, { recursive: true });
  const release = lockDirectory(dir);
  let db: PGlite;
  try {
    db = await PGlite.create({ dataDir: dir, extensions: { vector } });
  } catch (error) {
    release();
    throw new Error(`cannot open the embedded database in ${dir}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const prisma = new PrismaClient({ adapter: new PrismaPGlite(db) });
  return {
    kind: 'pglite',
    location: dir,
    prisma,
    exclusive: true,
    withScriptTransaction: (task) =>
      db.transaction((tx) =>
        task({
          exec: async (sql) => {
            await tx.exec(sql);
          },
          query: async <Row>(sql: string, params: readonly unknown[] = []) => (await tx.query<Row>(sql, [...params])).rows,
        }),
      ),
    async close() {
      await prisma.$disconnect();
      await db.close();
      release();
    },
  };
}

/** postgres://user:secret@host/db -> postgres://user@host/db, for messages. */
export function redactUrl(url: string): string {
  try {
    const parsed = new URL(url);
    parsed.password = '';
    return parsed.toString();
  } catch {
    return '(unparseable database URL)';
  }
}

export async function openPostgresBackend(url: string): Promise<Backend> {
  if (!/^postgres(ql)?:\/\//.test(url)) {
    throw new TypeError(`DATABASE_URL must be a postgres:// or postgresql:// URL, got "${redactUrl(url)}"`);
  }
  const pool = new pg.Pool({ connectionString: url, max: 8 });
  // Fail now, with the URL, rather than at the first query.
  try {
    const client = await pool.connect();
    client.release();
  } catch (error) {
    await pool.end();
    throw new Error(`cannot connect to the Postgres server at ${redactUrl(url)}: ${error instanceof Error ? error.message : String(error)}`);
  }
  const prisma = new PrismaClient({ adapter: new PrismaPg(pool) });
  return {
    kind: 'postgres',
    location: redactUrl(url),
    prisma,
    exclusive: false,
    async withScriptTransaction(task) {
      const client = await pool.connect();
      try {
        await client.query(`SELECT pg_advisory_lock(${PRISMA_MIGRATION_LOCK})`);
        try {
          await client.query('BEGIN');
          const result = await task({
            exec: async (sql) => {
              await client.query(sql);
            },
            query: async <Row>(sql: string, params: readonly unknown[] = []) => (await client.query(sql, [...params])).rows as Row[],
          });
          await client.query('COMMIT');
          return result;
        } catch (error) {
          await client.query('ROLLBACK').catch(() => undefined);
          throw error;
        } finally {
          await client.query(`SELECT pg_advisory_unlock(${PRISMA_MIGRATION_LOCK})`).catch(() => undefined);
        }
      } finally {
        client.release();
      }
    },
    async close() {
      await prisma.$disconnect();
      await pool.end();
    },
  };
}
