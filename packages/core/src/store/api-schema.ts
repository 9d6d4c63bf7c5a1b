/**
 * The tables of the GraphQL API and its job worker, in their own Postgres schema `strata_api`
 * beside Prisma's (as pg-boss keeps its queue in `pgboss`): API tokens, dataset ownership,
 * jobs, uploads, settings. They are not in prisma/schema.prisma because nothing but the API
 * reads them, and a separate schema keeps `prisma migrate` from seeing them as drift.
 *
 * Versioned like Prisma's migrations: each step runs once, in order, in one transaction under
 * an advisory lock (several API and worker processes may start at once), and is recorded in
 * strata_api.migration.
 */
import type { Store, TransactionClient } from './store.js';

export const API_SCHEMA = 'strata_api';
/** pg_advisory_xact_lock key for API schema migrations (Prisma's is 72707369). */
const API_SCHEMA_LOCK = 72707370;

interface ApiMigration {
  readonly version: number;
  readonly name: string;
  readonly statements: readonly string[];
}

const MIGRATIONS: readonly ApiMigration[] = [
  {
    version: 1,
    name: 'tokens_access_jobs',
    statements: [
      `CREATE TABLE strata_api.api_token (
        id serial PRIMARY KEY,
        user_name text NOT NULL,
        role text NOT NULL CHECK (role IN ('viewer', 'editor', 'admin')),
        token_sha256 char(64) NOT NULL UNIQUE,
        label text NOT NULL,
        note text,
        created_at timestamptz NOT NULL DEFAULT now(),
        last_used_at timestamptz,
        revoked_at timestamptz
      )`,
      `CREATE INDEX api_token_user_idx ON strata_api.api_token (user_name)`,
      `CREATE TABLE strata_api.dataset_access (
        dataset_id int PRIMARY KEY REFERENCES dataset (id) ON DELETE CASCADE,
        owner text,
        visibility text NOT NULL DEFAULT 'private' CHECK (visibility IN ('private', 'lab')),
        model_path text,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE strata_api.setting (key text PRIMARY KEY, value text NOT NULL)`,
      `CREATE TABLE strata_api.upload (
        id uuid PRIMARY KEY,
        owner text NOT NULL,
        kind text NOT NULL CHECK (kind IN ('image', 'hdf5')),
        path text NOT NULL,
        bytes bigint NOT NULL,
        sha256 char(64) NOT NULL,
        created_at timestamptz NOT NULL DEFAULT now()
      )`,
      `CREATE TABLE strata_api.job (
        id serial PRIMARY KEY,
        kind text NOT NULL CHECK (kind IN ('extraction', 'map', 'comparison', 'layer_matrix')),
        status text NOT NULL DEFAULT 'queued' CHECK (status IN ('queued', 'running', 'done', 'failed', 'cancelled')),
        dataset_id int REFERENCES dataset (id) ON DELETE CASCADE,
        owner text NOT NULL,
        key text NOT NULL,
        params jsonb NOT NULL DEFAULT '{}',
        queue text NOT NULL,
        boss_id uuid,
        phase text,
        done int NOT NULL DEFAULT 0,
        total int NOT NULL DEFAULT 0,
        rate double precision,
        errors jsonb NOT NULL DEFAULT '[]',
        error text,
        result jsonb,
        attempts int NOT NULL DEFAULT 0,
        core_run_id int,
        worker text,
        heartbeat_at timestamptz,
        cancel_requested boolean NOT NULL DEFAULT false,
        created_at timestamptz NOT NULL DEFAULT now(),
        started_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT now(),
        finished_at timestamptz
      )`,
      `CREATE INDEX job_key_idx ON strata_api.job (key, id DESC)`,
      `CREATE INDEX job_dataset_idx ON strata_api.job (dataset_id, id DESC)`,
      `CREATE INDEX job_running_idx ON strata_api.job (heartbeat_at) WHERE status = 'running'`,
      // One extraction at a time per dataset: two ingests of one dataset would race.
      `CREATE UNIQUE INDEX job_one_extraction_idx ON strata_api.job (dataset_id) WHERE kind = 'extraction' AND status IN ('queued', 'running')`,
    ],
  },
];

export const API_SCHEMA_VERSION = MIGRATIONS.length;

/** Applies the API schema's pending migrations; returns the names applied (none when up to date). */
export async function ensureApiSchema(store: Store): Promise<string[]> {
  const current = await store.withPrisma((prisma) => readVersion(prisma));
  if (current >= API_SCHEMA_VERSION) return [];
  return store.transaction(async (tx) => {
    await tx.$queryRawUnsafe(`SELECT true AS locked FROM pg_advisory_xact_lock(${API_SCHEMA_LOCK})`);
    await tx.$executeRawUnsafe(`CREATE SCHEMA IF NOT EXISTS ${API_SCHEMA}`);
    await tx.$executeRawUnsafe(
      `CREATE TABLE IF NOT EXISTS ${API_SCHEMA}.migration (version int PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
    );
    const applied = new Set(
      (await tx.$queryRawUnsafe<{ version: number }[]>(`SELECT version FROM ${API_SCHEMA}.migration`)).map((row) => row.version),
    );
    const names: string[] = [];
    for (const migration of MIGRATIONS) {
      if (applied.has(migration.version)) continue;
      for (const statement of migration.statements) await tx.$executeRawUnsafe(statement);
      await tx.$executeRawUnsafe(`INSERT INTO ${API_SCHEMA}.migration (version, name) VALUES ($1::int, $2::text)`, migration.version, migration.name);
      names.push(`${migration.version}_${migration.name}`);
    }
    return names;
  });
}

async function readVersion(db: Pick<TransactionClient, '$queryRawUnsafe'>): Promise<number> {
  const exists = await db.$queryRawUnsafe<{ present: boolean }[]>(
    `SELECT to_regclass('${API_SCHEMA}.migration') IS NOT NULL AS present`,
  );
  if (!exists[0]?.present) return 0;
  const rows = await db.$queryRawUnsafe<{ version: number | null }[]>(`SELECT max(version)::int AS version FROM ${API_SCHEMA}.migration`);
  return rows[0]?.version ?? 0;
}
