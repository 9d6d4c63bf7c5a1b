/**
 * The vector repository: the one module that reads and writes pgvector values. Everything else
 * goes through Prisma's typed API; vectors go through raw SQL here, as pgvector's text format
 * (pgvector's toSql/fromSql) with explicit ::vector casts, and come out as Float32Array.
 *
 * All layers share `feature_vector`, whose `vector` column is untyped. A layer's vectors all
 * have its PCA size K, and pgvector indexes such a column through partial expression indexes,
 * one per (layer, metric):
 *   CREATE INDEX ... USING hnsw ((vector::vector(K)) vector_cosine_ops) WHERE dataset_layer_id = X
 * A query uses one only when it repeats that expression and predicate exactly, which is why the
 * layer id and K are written into the SQL (validated integers) rather than sent as parameters.
 */
import pgvector from 'pgvector';
import { InvalidInputError } from './errors.js';

export type Metric = 'cosine' | 'l2';
export const METRICS: readonly Metric[] = ['cosine', 'l2'];

/** The stored vectors of one dataset layer: its `dataset_layer.id` and their dimension K. */
export interface VectorSpace {
  readonly id: number;
  readonly dimension: number;
}

export interface VectorHit {
  readonly imageId: number;
  readonly distance: number;
}

/** What the repository needs of a Prisma client or interactive-transaction client. */
export interface SqlClient {
  $executeRawUnsafe(query: string, ...values: unknown[]): PromiseLike<number>;
  $queryRawUnsafe<T = unknown>(query: string, ...values: unknown[]): PromiseLike<T>;
}

/** pgvector indexes at most 2,000 dimensions of `vector`. */
export const MAX_INDEXED_DIMENSION = 2000;
/** hnsw.ef_search accepts 1..1000. */
export const MAX_EF_SEARCH = 1000;
/** Rows per INSERT: 2 parameters each, far below Postgres's 65,535. */
const INSERT_ROWS = 500;

const OPERATOR: Readonly<Record<Metric, string>> = { cosine: '<=>', l2: '<->' };
const OPCLASS: Readonly<Record<Metric, string>> = { cosine: 'vector_cosine_ops', l2: 'vector_l2_ops' };

export function parseMetric(text: string): Metric {
  if ((METRICS as readonly string[]).includes(text)) return text as Metric;
  throw new RangeError(`unknown metric "${text}"; expected one of ${METRICS.join(', ')}`);
}

function checkSpace(space: VectorSpace): void {
  if (!Number.isInteger(space.id) || space.id < 1) throw new RangeError(`dataset layer id must be a positive integer, got ${space.id}`);
  if (!Number.isInteger(space.dimension) || space.dimension < 1 || space.dimension > MAX_INDEXED_DIMENSION) {
    throw new RangeError(`vector dimension must be an integer in [1, ${MAX_INDEXED_DIMENSION}], got ${space.dimension}`);
  }
}

/** The indexed expression; must be written identically in index and query. */
function typed(space: VectorSpace, column = 'vector'): string {
  return `(${column}::vector(${space.dimension}))`;
}

export function hnswIndexName(space: VectorSpace, metric: Metric): string {
  return `feature_vector_hnsw_${metric}_${space.id}`;
}

/** pgvector's text form of one vector, refusing values pgvector would refuse less clearly. */
export function vectorToSql(vector: Float32Array, what = 'vector'): string {
  for (let i = 0; i < vector.length; i++) {
    if (!Number.isFinite(vector[i])) throw new InvalidInputError(`${what} has ${vector[i]} at position ${i}; vectors must be finite`);
  }
  return pgvector.toSql(Array.from(vector)) as string;
}

export function vectorFromSql(text: string): Float32Array {
  const parsed = pgvector.fromSql(text);
  if (!Array.isArray(parsed)) throw new TypeError(`expected a pgvector vector, got ${text.slice(0, 40)}`);
  return Float32Array.from(parsed);
}

function checkQuery(space: VectorSpace, query: Float32Array): string {
  if (!(query instanceof Float32Array) || query.length !== space.dimension) {
    const actual = query instanceof Float32Array ? `${query.length} values` : typeof query;
    throw new InvalidInputError(`query vector has ${actual}; this layer's vectors have ${space.dimension}`);
  }
  return vectorToSql(query, 'query vector');
}

function checkK(k: number): void {
  if (!Number.isInteger(k) || k < 1 || k > MAX_EF_SEARCH) throw new InvalidInputError(`k must be an integer in [1, ${MAX_EF_SEARCH}], got ${k}`);
}

/**
 * Stores rows `vectors[i*K .. (i+1)*K)` for `imageIds[i]`. A vector already stored for an image
 * is left as it is (ON CONFLICT DO NOTHING), so replaying a batch adds nothing. Returns how many
 * were new. Run it in the caller's transaction to commit vectors with what they belong to.
 */
export async function insertVectors(db: SqlClient, space: VectorSpace, imageIds: ArrayLike<number>, vectors: Float32Array): Promise<number> {
  checkSpace(space);
  const count = imageIds.length;
  if (!(vectors instanceof Float32Array) || vectors.length !== count * space.dimension) {
    const actual = vectors instanceof Float32Array ? `${vectors.length} values` : typeof vectors;
    throw new InvalidInputError(
      `vectors for ${count} images must be ${count} x ${space.dimension} = ${count * space.dimension} float32 values (this layer's dimension is ${space.dimension}); got ${actual}`,
    );
  }
  // Convert everything first: a bad value anywhere refuses the whole call before any write.
  const literals: string[] = [];
  for (let i = 0; i < count; i++) {
    const imageId = imageIds[i] as number;
    if (!Number.isInteger(imageId) || imageId < 1) throw new InvalidInputError(`image id must be a positive integer, got ${imageId}`);
    literals.push(vectorToSql(vectors.subarray(i * space.dimension, (i + 1) * space.dimension), `vector of image ${imageId}`));
  }
  let inserted = 0;
  for (let start = 0; start < count; start += INSERT_ROWS) {
    const end = Math.min(count, start + INSERT_ROWS);
    const rows: string[] = [];
    const values: unknown[] = [];
    for (let i = start; i < end; i++) {
      values.push(imageIds[i], literals[i]);
      rows.push(`(${space.id}, $${values.length - 1}, $${values.length}::vector(${space.dimension}))`);
    }
    inserted += await db.$executeRawUnsafe(
      `INSERT INTO "feature_vector" ("dataset_layer_id", "image_id", "vector") VALUES ${rows.join(', ')} ON CONFLICT DO NOTHING`,
      ...values,
    );
  }
  return inserted;
}

export async function countVectors(db: SqlClient, space: VectorSpace): Promise<number> {
  checkSpace(space);
  const rows = await db.$queryRawUnsafe<{ count: number }[]>(
    `SELECT count(*)::int AS count FROM "feature_vector" WHERE "dataset_layer_id" = ${space.id}`,
  );
  return rows[0]?.count ?? 0;
}

/** The vectors of the given images (all of the layer when omitted), ordered by image id. */
export async function readVectors(
  db: SqlClient,
  space: VectorSpace,
  imageIds?: readonly number[],
): Promise<{ imageIds: Int32Array; vectors: Float32Array }> {
  checkSpace(space);
  let filter = '';
  const values: unknown[] = [];
  if (imageIds !== undefined) {
    for (const id of imageIds) if (!Number.isInteger(id)) throw new InvalidInputError(`image id must be an integer, got ${id}`);
    values.push(`{${imageIds.join(',')}}`);
    filter = ` AND "image_id" = ANY($1::int[])`;
  }
  const rows = await db.$queryRawUnsafe<{ image_id: number; vector: string }[]>(
    `SELECT "image_id", "vector"::text AS "vector" FROM "feature_vector" WHERE "dataset_layer_id" = ${space.id}${filter} ORDER BY "image_id"`,
    ...values,
  );
  const ids = new Int32Array(rows.length);
  const out = new Float32Array(rows.length * space.dimension);
  rows.forEach((row, i) => {
    const vector = vectorFromSql(row.vector);
    if (vector.length !== space.dimension) {
      throw new Error(`stored vector of image ${row.image_id} has ${vector.length} values, layer expects ${space.dimension}`);
    }
    ids[i] = row.image_id;
    out.set(vector, i * space.dimension);
  });
  return { imageIds: ids, vectors: out };
}

export interface SearchOptions {
  readonly k: number;
  readonly metric: Metric;
  /**
   * 'hnsw' (default): the layer's HNSW index, hnsw.ef_search = efSearch.
   * 'rerank': 4k candidates from the index (ef_search >= 8k), re-ordered by exact distance.
   * 'exact': a scan of every vector of the layer; perfect recall, for evaluation.
   */
  readonly mode?: 'hnsw' | 'rerank' | 'exact';
  /** Default max(40, 2 x candidates). */
  readonly efSearch?: number;
}

export function defaultEfSearch(candidates: number): number {
  return Math.min(MAX_EF_SEARCH, Math.max(40, 2 * candidates));
}

/**
 * The k nearest vectors of the layer to `query`, nearest first. 'hnsw' and 'rerank' set
 * hnsw.ef_search with SET LOCAL, so `db` must be an interactive-transaction client.
 */
export async function searchVectors(db: SqlClient, space: VectorSpace, query: Float32Array, options: SearchOptions): Promise<VectorHit[]> {
  checkSpace(space);
  checkK(options.k);
  const literal = checkQuery(space, query);
  const op = OPERATOR[options.metric];
  if (op === undefined) throw new RangeError(`unknown metric "${String(options.metric)}"; expected one of ${METRICS.join(', ')}`);
  const mode = options.mode ?? 'hnsw';
  const where = `"dataset_layer_id" = ${space.id}`;
  const q = `$1::vector(${space.dimension})`;
  let sql: string;
  switch (mode) {
    case 'exact':
      // Untyped `vector`, not the indexed expression: the planner cannot use an index and scans.
      sql = `SELECT "image_id", ("vector" ${op} $1::vector) AS "distance" FROM "feature_vector" WHERE ${where} ORDER BY "vector" ${op} $1::vector LIMIT ${options.k}`;
      break;
    case 'hnsw':
      sql = `SELECT "image_id", (${typed(space)} ${op} ${q}) AS "distance" FROM "feature_vector" WHERE ${where} ORDER BY ${typed(space)} ${op} ${q} LIMIT ${options.k}`;
      break;
    case 'rerank': {
      const candidates = Math.min(MAX_EF_SEARCH, 4 * options.k);
      sql = `SELECT "image_id", ("vector" ${op} $1::vector) AS "distance" FROM (
          SELECT "image_id", "vector" FROM "feature_vector" WHERE ${where} ORDER BY ${typed(space)} ${op} ${q} LIMIT ${candidates}
        ) AS "candidates" ORDER BY "vector" ${op} $1::vector, "image_id" LIMIT ${options.k}`;
      break;
    }
    default:
      throw new RangeError(`unknown search mode "${String(mode)}"; expected hnsw, rerank or exact`);
  }
  if (mode !== 'exact') {
    const ef = options.efSearch ?? defaultEfSearch(mode === 'rerank' ? 4 * options.k : options.k);
    if (!Number.isInteger(ef) || ef < 1 || ef > MAX_EF_SEARCH) throw new InvalidInputError(`efSearch must be an integer in [1, ${MAX_EF_SEARCH}], got ${ef}`);
    await db.$executeRawUnsafe(`SET LOCAL hnsw.ef_search = ${ef}`);
  }
  const rows = await db.$queryRawUnsafe<{ image_id: number; distance: number }[]>(sql, literal);
  return rows.map((row) => ({ imageId: row.image_id, distance: Number(row.distance) }));
}

export interface HnswOptions {
  /** Graph degree. Default 16, pgvector's. */
  readonly m?: number;
  /**
   * Candidate list while building. Default 128, twice pgvector's: on clustered 256-d data
   * (bench/store) 64 left recall@10 at 0.96-0.99 whatever ef_search, 128 gives >= 0.99 at
   * ef_search 40, for ~40% more build time.
   */
  readonly efConstruction?: number;
}

/** Which of the layer's HNSW indexes exist. */
export async function listHnswIndexes(db: SqlClient, space: VectorSpace): Promise<Metric[]> {
  checkSpace(space);
  const rows = await db.$queryRawUnsafe<{ indexname: string }[]>(
    `SELECT "indexname" FROM pg_indexes WHERE "tablename" = 'feature_vector' AND "indexname" = ANY($1::text[])`,
    `{${METRICS.map((metric) => hnswIndexName(space, metric)).join(',')}}`,
  );
  const names = new Set(rows.map((row) => row.indexname));
  return METRICS.filter((metric) => names.has(hnswIndexName(space, metric)));
}

/**
 * Builds the layer's HNSW index for `metric` unless it exists. Postgres builds an index in one
 * transaction, so an interrupted build leaves nothing and the next call starts over.
 * `db` must be an interactive-transaction client (maintenance_work_mem is SET LOCAL).
 */
export async function createHnswIndex(db: SqlClient, space: VectorSpace, metric: Metric, options: HnswOptions = {}): Promise<boolean> {
  checkSpace(space);
  const m = options.m ?? 16;
  const efConstruction = options.efConstruction ?? 128;
  if (!Number.isInteger(m) || m < 2 || m > 100) throw new RangeError(`m must be an integer in [2, 100], got ${m}`);
  if (!Number.isInteger(efConstruction) || efConstruction < 2 * m || efConstruction > 1000) {
    throw new RangeError(`efConstruction must be an integer in [2m = ${2 * m}, 1000], got ${efConstruction}`);
  }
  if ((await listHnswIndexes(db, space)).includes(metric)) return false;
  // A graph that outgrows maintenance_work_mem makes the build far slower (pgvector's notice).
  await db.$executeRawUnsafe(`SET LOCAL maintenance_work_mem = '512MB'`);
  await db.$executeRawUnsafe(
    `CREATE INDEX IF NOT EXISTS "${hnswIndexName(space, metric)}" ON "feature_vector" USING hnsw (${typed(space)} ${OPCLASS[metric]}) WITH (m = ${m}, ef_construction = ${efConstruction}) WHERE "dataset_layer_id" = ${space.id}`,
  );
  return true;
}

/** Drops the layer's HNSW indexes (before its vectors are replaced, or the layer removed). */
export async function dropHnswIndexes(db: SqlClient, space: VectorSpace): Promise<void> {
  checkSpace(space);
  for (const metric of METRICS) await db.$executeRawUnsafe(`DROP INDEX IF EXISTS "${hnswIndexName(space, metric)}"`);
}
