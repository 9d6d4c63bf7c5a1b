/**
 * Who may use the API and what they may see: API tokens (hashed), dataset ownership and
 * visibility, uploads, and small settings shared by every API process. Tables in the
 * `strata_api` schema (./api-schema.ts); every call goes through the store's queue.
 */
import { randomBytes } from 'node:crypto';
import { generateToken, hashToken, looksLikeToken } from '../auth/tokens.js';
import { UNOWNED_ACCESS, checkUserName, type DatasetAccess, type Principal, type Role, type Visibility } from '../auth/roles.js';
import { ConflictError, InvalidInputError, NotFoundError } from './errors.js';
import type { Store } from './store.js';

export interface ApiTokenRecord {
  readonly id: number;
  readonly user: string;
  readonly role: Role;
  readonly label: string;
  readonly note: string | null;
  readonly createdAt: Date;
  readonly lastUsedAt: Date | null;
  readonly revokedAt: Date | null;
}

interface TokenRow {
  id: number;
  user_name: string;
  role: Role;
  label: string;
  note: string | null;
  created_at: Date;
  last_used_at: Date | null;
  revoked_at: Date | null;
}

function tokenRecord(row: TokenRow): ApiTokenRecord {
  return {
    id: row.id,
    user: row.user_name,
    role: row.role,
    label: row.label,
    note: row.note,
    createdAt: row.created_at,
    lastUsedAt: row.last_used_at,
    revokedAt: row.revoked_at,
  };
}

const TOKEN_COLUMNS = 'id, user_name, role, label, note, created_at, last_used_at, revoked_at';

/** Creates a token for `user` with `role`; the secret is in the result and nowhere else. */
export async function createApiToken(store: Store, options: { user: string; role: Role; note?: string }): Promise<{ token: string; record: ApiTokenRecord }> {
  const user = checkUserName(options.user);
  const created = generateToken();
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<TokenRow[]>(
      `INSERT INTO strata_api.api_token (user_name, role, token_sha256, label, note) VALUES ($1::text, $2::text, $3::text, $4::text, $5::text) RETURNING ${TOKEN_COLUMNS}`,
      user,
      options.role,
      created.sha256,
      created.label,
      options.note ?? null,
    ),
  );
  return { token: created.token, record: tokenRecord(rows[0] as TokenRow) };
}

export async function listApiTokens(store: Store): Promise<ApiTokenRecord[]> {
  const rows = await store.withPrisma((prisma) => prisma.$queryRawUnsafe<TokenRow[]>(`SELECT ${TOKEN_COLUMNS} FROM strata_api.api_token ORDER BY id`));
  return rows.map(tokenRecord);
}

/** Revokes a token by id or by its label (`strata_abc123`); returns the revoked record. */
export async function revokeApiToken(store: Store, idOrLabel: number | string): Promise<ApiTokenRecord> {
  const rows = await store.withPrisma((prisma) =>
    typeof idOrLabel === 'number'
      ? prisma.$queryRawUnsafe<TokenRow[]>(`UPDATE strata_api.api_token SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1::int RETURNING ${TOKEN_COLUMNS}`, idOrLabel)
      : prisma.$queryRawUnsafe<TokenRow[]>(`UPDATE strata_api.api_token SET revoked_at = coalesce(revoked_at, now()) WHERE label = $1::text RETURNING ${TOKEN_COLUMNS}`, idOrLabel),
  );
  if (rows.length === 0) throw new NotFoundError(`no API token ${typeof idOrLabel === 'number' ? `with id ${idOrLabel}` : `labelled "${idOrLabel}"`}`);
  if (rows.length > 1) throw new ConflictError(`${rows.length} tokens are labelled "${idOrLabel}"; revoke by id`);
  return tokenRecord(rows[0] as TokenRow);
}

/**
 * The principal a bearer token stands for, or null when it is malformed, unknown or revoked.
 * `last_used_at` is updated at most once a minute per token.
 */
export async function authenticateToken(store: Store, token: string): Promise<Principal | null> {
  if (!looksLikeToken(token)) return null;
  const sha = hashToken(token);
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<{ id: number; user_name: string; role: Role; stale: boolean }[]>(
      `SELECT id, user_name, role, (last_used_at IS NULL OR last_used_at < now() - interval '1 minute') AS stale
         FROM strata_api.api_token WHERE token_sha256 = $1::text AND revoked_at IS NULL`,
      sha,
    ),
  );
  const row = rows[0];
  if (!row) return null;
  if (row.stale) {
    await store.withPrisma((prisma) => prisma.$executeRawUnsafe(`UPDATE strata_api.api_token SET last_used_at = now() WHERE id = $1::int`, row.id));
  }
  return { user: row.user_name, role: row.role, tokenId: row.id };
}

/** Whether the token with this id still exists unrevoked (for signed URLs made with it). */
export async function tokenIsActive(store: Store, tokenId: number): Promise<Principal | null> {
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<{ id: number; user_name: string; role: Role }[]>(
      `SELECT id, user_name, role FROM strata_api.api_token WHERE id = $1::int AND revoked_at IS NULL`,
      tokenId,
    ),
  );
  const row = rows[0];
  return row ? { user: row.user_name, role: row.role, tokenId: row.id } : null;
}

// ---- dataset access ----

export interface DatasetAccessRecord extends DatasetAccess {
  readonly datasetId: number;
  /** The model file the dataset was registered with through the API (null otherwise). */
  readonly modelPath: string | null;
}

/** Access of the given datasets, in the order asked; datasets made outside the API are unowned and shared. */
export async function datasetAccess(store: Store, datasetIds: readonly number[]): Promise<DatasetAccessRecord[]> {
  if (datasetIds.length === 0) return [];
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<{ dataset_id: number; owner: string | null; visibility: Visibility; model_path: string | null }[]>(
      `SELECT dataset_id, owner, visibility, model_path FROM strata_api.dataset_access WHERE dataset_id = ANY($1::int[])`,
      `{${datasetIds.map((id) => Math.trunc(id)).join(',')}}`,
    ),
  );
  const byId = new Map(rows.map((row) => [row.dataset_id, row]));
  return datasetIds.map((id) => {
    const row = byId.get(id);
    return row
      ? { datasetId: id, owner: row.owner, visibility: row.visibility, modelPath: row.model_path }
      : { datasetId: id, ...UNOWNED_ACCESS, modelPath: null };
  });
}

export async function setDatasetVisibility(store: Store, datasetId: number, visibility: Visibility): Promise<void> {
  await store.withPrisma((prisma) =>
    prisma.$executeRawUnsafe(
      `INSERT INTO strata_api.dataset_access (dataset_id, owner, visibility) VALUES ($1::int, NULL, $2::text)
         ON CONFLICT (dataset_id) DO UPDATE SET visibility = excluded.visibility`,
      datasetId,
      visibility,
    ),
  );
}

export interface RegisterDatasetOptions {
  readonly name: string;
  readonly owner: string;
  readonly visibility: Visibility;
  readonly source: { readonly kind: 'hdf5' | 'folder'; readonly path: string; readonly dataset?: string; readonly imageCount: number };
  readonly model: { readonly name: string; readonly sha256: string; readonly path: string };
}

/**
 * Records a dataset before its first extraction, exactly as `ingestDataset` would (same source
 * path, kind and image count, same model by sha256), so that the ingest finds and continues it;
 * plus its owner and visibility. A taken name is a ConflictError.
 */
export async function registerDataset(store: Store, options: RegisterDatasetOptions): Promise<number> {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(options.name)) {
    throw new InvalidInputError(`dataset name must be 1-128 characters of letters, digits, '.', '_', '-' (starting with a letter or digit); got "${options.name}"`);
  }
  return store.transaction(async (tx) => {
    const existing = await tx.dataset.findUnique({ where: { name: options.name }, select: { id: true } });
    if (existing) throw new ConflictError(`a dataset named "${options.name}" exists already; choose another name`);
    const model = await tx.model.upsert({
      where: { sha256: options.model.sha256 },
      create: { name: options.model.name, sha256: options.model.sha256 },
      update: {},
    });
    const dataset = await tx.dataset.create({
      data: {
        name: options.name,
        sourceKind: options.source.kind,
        sourcePath: options.source.path,
        sourceDataset: options.source.kind === 'hdf5' ? (options.source.dataset ?? 'imgBrick') : null,
        imageCount: options.source.imageCount,
        modelId: model.id,
      },
    });
    await tx.$executeRawUnsafe(
      `INSERT INTO strata_api.dataset_access (dataset_id, owner, visibility, model_path) VALUES ($1::int, $2::text, $3::text, $4::text)`,
      dataset.id,
      options.owner,
      options.visibility,
      options.model.path,
    );
    return dataset.id;
  });
}

// ---- settings ----

/**
 * A random secret shared by every API process through the database (signed file URLs), made
 * on first use. The first writer wins; everyone reads the same value.
 */
export async function sharedSecret(store: Store, key: string): Promise<Buffer> {
  const fresh = randomBytes(32).toString('base64url');
  const rows = await store.withPrisma(async (prisma) => {
    await prisma.$executeRawUnsafe(`INSERT INTO strata_api.setting (key, value) VALUES ($1::text, $2::text) ON CONFLICT (key) DO NOTHING`, key, fresh);
    return prisma.$queryRawUnsafe<{ value: string }[]>(`SELECT value FROM strata_api.setting WHERE key = $1::text`, key);
  });
  return Buffer.from((rows[0] as { value: string }).value, 'base64url');
}

// ---- uploads ----

export interface UploadRecord {
  readonly id: string;
  readonly owner: string;
  readonly kind: 'image' | 'hdf5';
  /** Absolute path of the stored file. */
  readonly path: string;
  readonly bytes: number;
  readonly sha256: string;
  readonly createdAt: Date;
}

interface UploadRow {
  id: string;
  owner: string;
  kind: 'image' | 'hdf5';
  path: string;
  bytes: bigint | number;
  sha256: string;
  created_at: Date;
}

export async function recordUpload(store: Store, upload: Omit<UploadRecord, 'createdAt'>): Promise<void> {
  await store.withPrisma((prisma) =>
    prisma.$executeRawUnsafe(
      `INSERT INTO strata_api.upload (id, owner, kind, path, bytes, sha256) VALUES ($1::uuid, $2::text, $3::text, $4::text, $5::bigint, $6::text)`,
      upload.id,
      upload.owner,
      upload.kind,
      upload.path,
      upload.bytes,
      upload.sha256,
    ),
  );
}

export async function getUpload(store: Store, id: string): Promise<UploadRecord | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<UploadRow[]>(`SELECT id::text, owner, kind, path, bytes, sha256, created_at FROM strata_api.upload WHERE id = $1::uuid`, id),
  );
  const row = rows[0];
  return row ? { id: row.id, owner: row.owner, kind: row.kind, path: row.path, bytes: Number(row.bytes), sha256: row.sha256, createdAt: row.created_at } : null;
}
