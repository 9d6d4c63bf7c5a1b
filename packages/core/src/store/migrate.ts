/**
 * Applies prisma/migrations the way `prisma migrate deploy` does, without Prisma's schema
 * engine (which cannot be downloaded everywhere Strata runs, and does not run on PGlite):
 * migrations in name order, each recorded in `_prisma_migrations` with the sha256 of its
 * migration.sql, so that `prisma migrate deploy` on another machine sees them as applied.
 */
import { createHash, randomUUID } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Backend, ScriptConnection } from './backend.js';
import { MigrationError } from './errors.js';

export interface Migration {
  /** Folder name, e.g. 20261130180000_feature_store. */
  readonly name: string;
  readonly sql: string;
  /** Lowercase hex sha256 of migration.sql, as Prisma records it. */
  readonly checksum: string;
}

export interface MigrationReport {
  /** Migrations applied by this call, in order. */
  readonly applied: readonly string[];
  /** Migrations that were already in the database. */
  readonly alreadyApplied: readonly string[];
  /** Recorded in the database but absent from the migrations folder (a newer Strata wrote them). */
  readonly unknown: readonly string[];
}

export interface MigrationStatus {
  readonly applied: readonly string[];
  readonly pending: readonly string[];
  readonly unknown: readonly string[];
}

/**
 * prisma/migrations of this repository: four levels up from dist/store/ (or src/store/) of
 * packages/core.
 */
export function defaultMigrationsDir(): string {
  return resolve(dirname(fileURLToPath(import.meta.url)), '../../../../prisma/migrations');
}

export function checksumOf(sql: string): string {
  return createHash('sha256').update(sql).digest('hex');
}

/** Prisma accepts a recorded checksum computed with either line ending (git may convert them). */
function checksumMatches(sql: string, checksum: string): boolean {
  return [sql, sql.replaceAll('\r\n', '\n'), sql.replaceAll('\r\n', '\n').replaceAll('\n', '\r\n')].some(
    (text) => checksumOf(text) === checksum,
  );
}

export function readMigrations(dir: string = defaultMigrationsDir()): Migration[] {
  if (!existsSync(dir)) throw new MigrationError(`migrations folder ${dir} not found`);
  return readdirSync(dir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory())
    .map((entry) => entry.name)
    .sort()
    .map((name) => {
      const path = join(dir, name, 'migration.sql');
      if (!existsSync(path)) throw new MigrationError(`${join(dir, name)} has no migration.sql`);
      const sql = readFileSync(path, 'utf8');
      return { name, sql, checksum: checksumOf(sql) };
    });
}

/** The table `prisma migrate deploy` creates, column for column. */
const CREATE_MIGRATIONS_TABLE = `CREATE TABLE IF NOT EXISTS "_prisma_migrations" (
    "id"                    VARCHAR(36) PRIMARY KEY NOT NULL,
    "checksum"              VARCHAR(64) NOT NULL,
    "finished_at"           TIMESTAMPTZ,
    "migration_name"        VARCHAR(255) NOT NULL,
    "logs"                  TEXT,
    "rolled_back_at"        TIMESTAMPTZ,
    "started_at"            TIMESTAMPTZ NOT NULL DEFAULT now(),
    "applied_steps_count"   INTEGER NOT NULL DEFAULT 0
)`;

interface MigrationRow {
  migration_name: string;
  checksum: string;
  finished_at: Date | string | null;
  rolled_back_at: Date | string | null;
}

async function readApplied(connection: ScriptConnection): Promise<MigrationRow[]> {
  const exists = await connection.query<{ present: boolean }>(`SELECT to_regclass('"_prisma_migrations"') IS NOT NULL AS present`);
  if (!exists[0]?.present) return [];
  return connection.query<MigrationRow>(
    'SELECT migration_name, checksum, finished_at, rolled_back_at FROM "_prisma_migrations" ORDER BY started_at, migration_name',
  );
}

/** Splits the recorded migrations into applied / pending, refusing a database Prisma would refuse too. */
function reconcile(migrations: readonly Migration[], rows: readonly MigrationRow[]): MigrationStatus {
  const live = rows.filter((row) => row.rolled_back_at === null);
  const failed = live.find((row) => row.finished_at === null);
  if (failed) {
    throw new MigrationError(
      `migration ${failed.migration_name} failed earlier and is marked unfinished in _prisma_migrations; fix the database, then mark it with \`prisma migrate resolve\``,
    );
  }
  const applied: string[] = [];
  const pending: string[] = [];
  for (const migration of migrations) {
    const row = live.find((candidate) => candidate.migration_name === migration.name);
    if (!row) {
      pending.push(migration.name);
      continue;
    }
    if (!checksumMatches(migration.sql, row.checksum)) {
      throw new MigrationError(
        `migration ${migration.name} was changed after it was applied (sha256 ${migration.checksum.slice(0, 12)}… on disk, ${row.checksum.slice(0, 12)}… in the database); migrations must never be edited once applied`,
      );
    }
    applied.push(migration.name);
  }
  const known = new Set(migrations.map((migration) => migration.name));
  const unknown = live.map((row) => row.migration_name).filter((name) => !known.has(name));
  return { applied, pending, unknown };
}

export async function migrationStatus(backend: Backend, dir?: string): Promise<MigrationStatus> {
  const migrations = readMigrations(dir);
  return backend.withScriptTransaction(async (connection) => reconcile(migrations, await readApplied(connection)));
}

/**
 * Applies the pending migrations in one transaction (Postgres DDL is transactional: a failure
 * leaves the database as it was). Running it again applies nothing.
 */
export async function applyMigrations(backend: Backend, dir?: string): Promise<MigrationReport> {
  const migrations = readMigrations(dir);
  return backend.withScriptTransaction(async (connection) => {
    await connection.exec(CREATE_MIGRATIONS_TABLE);
    const status = reconcile(migrations, await readApplied(connection));
    const applied: string[] = [];
    for (const migration of migrations) {
      if (!status.pending.includes(migration.name)) continue;
      const startedAt = new Date();
      try {
        await connection.exec(migration.sql);
      } catch (error) {
        throw new MigrationError(`migration ${migration.name} failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      await connection.query(
        `INSERT INTO "_prisma_migrations" ("id", "checksum", "finished_at", "migration_name", "logs", "rolled_back_at", "started_at", "applied_steps_count")
         VALUES ($1, $2, now(), $3, NULL, NULL, $4, 1)`,
        [randomUUID(), migration.checksum, migration.name, startedAt.toISOString()],
      );
      applied.push(migration.name);
    }
    return { applied, alreadyApplied: status.applied, unknown: status.unknown };
  });
}
