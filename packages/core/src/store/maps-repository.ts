/**
 * The map repository: every read and write of `map` rows, and of the runs that go with them.
 *
 * A map's points are two bytea columns rather than a row per point: `coordinates` holds
 * float32 (x, y) pairs and `image_ids` the int32 image ids in the same order (ascending),
 * both little-endian. A map of 73,000 images is then one row of 876 KB, written and read in
 * one statement on either backend; a row per point would be 73,000 inserts per map and buys
 * nothing, since a map is always read whole.
 *
 * The unique key (dataset layer, perplexity, seed, iterations, method) makes a map computed
 * once per parameter set. A computation first claims its row (status `running`, linked to a
 * `run` that carries its progress and whose `updated_at`, with the map's, is a heartbeat);
 * another process finding a running row waits for it, or takes it over when its heartbeat
 * has stopped (a killed process), or when it failed.
 *
 * Atlases belong to a dataset, not to one map: each build is recorded as a finished `run` of
 * kind `map` with phase `atlas` whose params name the folder.
 */
import { isAbsolute, join, relative, sep } from 'node:path';
import type { DataDirLayout } from './data-dir.js';
import type { RunStatus } from './generated/enums.js';
import type { Prisma, PrismaClient } from './generated/client.js';

type Db = PrismaClient | Prisma.TransactionClient;

/** The repulsion methods a stored map can have been computed with. */
export type MapMethod = 'exact' | 'bh' | 'fft' | 'hybrid';
export const MAP_METHODS: readonly MapMethod[] = ['exact', 'bh', 'fft', 'hybrid'];

/** What makes a map unique. `method` is the resolved one, never 'auto'. */
export interface MapRowKey {
  readonly datasetLayerId: number;
  readonly perplexity: number;
  readonly seed: number;
  readonly iterations: number;
  readonly method: MapMethod;
}

/** A decoded `map` row (paths as stored: relative to the data folder when inside it). */
export interface MapRow extends MapRowKey {
  readonly id: number;
  readonly runId: number | null;
  readonly status: RunStatus;
  readonly pointCount: number;
  readonly klDivergence: number | null;
  readonly imageIds: Int32Array;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly mosaicPath: string | null;
  readonly params: Record<string, unknown>;
  readonly error: string | null;
  readonly createdAt: Date;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
  /** The run's progress (phase, steps done of total) and its last heartbeat. */
  readonly progress: { readonly phase: string | null; readonly done: number; readonly total: number; readonly updatedAt: Date } | null;
}

export type MapClaim =
  | { readonly claimed: true; readonly map: MapRow; readonly runId: number }
  | { readonly claimed: false; readonly map: MapRow };

export interface MapProgressUpdate {
  readonly phase: string;
  readonly done: number;
  readonly total: number;
  /** Steps per second. */
  readonly rate?: number;
}

const LITTLE_ENDIAN = new Uint8Array(Uint16Array.of(1).buffer)[0] === 1;

/** float32 (x, y) pairs, little-endian. */
export function encodeCoordinates(x: Float32Array, y: Float32Array): Uint8Array<ArrayBuffer> {
  if (x.length !== y.length) throw new RangeError(`x has ${x.length} values and y ${y.length}; they must match`);
  const out = new Uint8Array(8 * x.length);
  const view = new DataView(out.buffer);
  for (let i = 0; i < x.length; i++) {
    view.setFloat32(8 * i, x[i] as number, true);
    view.setFloat32(8 * i + 4, y[i] as number, true);
  }
  return out;
}

export function decodeCoordinates(bytes: Uint8Array | null, count: number): { x: Float32Array; y: Float32Array } {
  const x = new Float32Array(count);
  const y = new Float32Array(count);
  if (bytes === null || count === 0) return { x, y };
  if (bytes.length !== 8 * count) throw new Error(`map coordinates hold ${bytes.length} bytes, expected 8 x ${count} points`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < count; i++) {
    x[i] = view.getFloat32(8 * i, true);
    y[i] = view.getFloat32(8 * i + 4, true);
  }
  return { x, y };
}

export function encodeImageIds(ids: Int32Array): Uint8Array<ArrayBuffer> {
  const out = new Uint8Array(4 * ids.length);
  if (LITTLE_ENDIAN) {
    out.set(new Uint8Array(ids.buffer, ids.byteOffset, ids.byteLength));
  } else {
    const view = new DataView(out.buffer);
    ids.forEach((id, i) => view.setInt32(4 * i, id, true));
  }
  return out;
}

export function decodeImageIds(bytes: Uint8Array | null): Int32Array {
  if (bytes === null) return new Int32Array(0);
  if (bytes.length % 4 !== 0) throw new Error(`map image ids hold ${bytes.length} bytes, not a whole number of int32`);
  const out = new Int32Array(bytes.length / 4);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  for (let i = 0; i < out.length; i++) out[i] = view.getInt32(4 * i, true);
  return out;
}

/** A path under the data folder is stored relative to it (the folder can move); others absolute. */
export function storedPath(layout: DataDirLayout, path: string): string {
  const rel = relative(layout.root, path);
  return rel !== '' && !rel.startsWith(`..${sep}`) && rel !== '..' && !isAbsolute(rel) ? rel : path;
}

export function resolveStoredPath(layout: DataDirLayout, path: string): string {
  return isAbsolute(path) ? path : join(layout.root, path);
}

const mapInclude = { run: { select: { phase: true, done: true, total: true, updatedAt: true } } } as const;
type MapRowWithRun = Prisma.MapGetPayload<{ include: typeof mapInclude }>;

function decode(row: MapRowWithRun): MapRow {
  const imageIds = decodeImageIds(row.imageIds);
  const { x, y } = decodeCoordinates(row.coordinates, imageIds.length);
  return {
    id: row.id,
    datasetLayerId: row.datasetLayerId,
    perplexity: row.perplexity,
    seed: row.seed,
    iterations: row.iterations,
    method: row.method as MapMethod,
    runId: row.runId,
    status: row.status,
    pointCount: row.pointCount,
    klDivergence: row.klDivergence,
    imageIds,
    x,
    y,
    mosaicPath: row.mosaicPath,
    params: typeof row.params === 'object' && row.params !== null && !Array.isArray(row.params) ? (row.params as Record<string, unknown>) : {},
    error: row.error,
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
    finishedAt: row.finishedAt,
    progress: row.run === null ? null : { phase: row.run.phase, done: row.run.done, total: row.run.total, updatedAt: row.run.updatedAt },
  };
}

const keyWhere = (key: MapRowKey) => ({
  datasetLayerId_perplexity_seed_iterations_method: {
    datasetLayerId: key.datasetLayerId,
    perplexity: key.perplexity,
    seed: key.seed,
    iterations: key.iterations,
    method: key.method,
  },
});

export async function findMapByKey(db: Db, key: MapRowKey): Promise<MapRow | null> {
  const row = await db.map.findUnique({ where: keyWhere(key), include: mapInclude });
  return row === null ? null : decode(row);
}

export async function findMapById(db: Db, id: number): Promise<MapRow | null> {
  if (!Number.isInteger(id) || id < 1 || id > 0x7fffffff) return null;
  const row = await db.map.findUnique({ where: { id }, include: mapInclude });
  return row === null ? null : decode(row);
}

/** Maps of these dataset layers, oldest first. */
export async function listMapRows(db: Db, datasetLayerIds: readonly number[]): Promise<MapRow[]> {
  const rows = await db.map.findMany({ where: { datasetLayerId: { in: [...datasetLayerIds] } }, include: mapInclude, orderBy: { id: 'asc' } });
  return rows.map(decode);
}

export interface ClaimOptions {
  readonly datasetId: number;
  readonly pointCount: number;
  /** Stored in the map's and the run's params. */
  readonly params: Record<string, unknown>;
  /** A running map whose heartbeat is older than this is taken over (its process is gone). */
  readonly staleBefore: Date;
}

/**
 * Claims the map of `key` for computing: creates it, or takes over a failed or stale one.
 * Returns `claimed: false` with the row when it is done, or running with a live heartbeat.
 */
export async function claimMap(db: PrismaClient, key: MapRowKey, options: ClaimOptions): Promise<MapClaim> {
  const params = options.params as Prisma.InputJsonObject;
  for (let attempt = 0; attempt < 5; attempt++) {
    // ON CONFLICT DO NOTHING: of two processes inserting the same key, one gets count 1.
    const inserted = await db.map.createMany({
      data: [{ ...key, status: 'running', pointCount: options.pointCount, params }],
      skipDuplicates: true,
    });
    const existing = await db.map.findUnique({ where: keyWhere(key), include: mapInclude });
    if (existing === null) continue; // deleted in between (its dataset was removed); try again
    if (inserted.count === 1) return { claimed: true, map: decode(existing), runId: await attachRun(db, existing.id, options) };
    const heartbeat = latest(existing.updatedAt, existing.run?.updatedAt);
    const takeOver = existing.status === 'failed' || (existing.status === 'running' && heartbeat < options.staleBefore);
    if (!takeOver) return { claimed: false, map: decode(existing) };
    // Conditional on the row being as read: of two processes taking over, one wins.
    const taken = await db.map.updateMany({
      where: { id: existing.id, status: existing.status, updatedAt: existing.updatedAt },
      data: { status: 'running', error: null, pointCount: options.pointCount, params, finishedAt: null, updatedAt: new Date() },
    });
    if (taken.count === 1) {
      const row = await db.map.findUniqueOrThrow({ where: { id: existing.id }, include: mapInclude });
      return { claimed: true, map: decode(row), runId: await attachRun(db, existing.id, options) };
    }
  }
  throw new Error(`could not claim map (layer ${key.datasetLayerId}, perplexity ${key.perplexity}, seed ${key.seed}): the row keeps changing`);
}

function latest(a: Date, b: Date | undefined): Date {
  return b !== undefined && b > a ? b : a;
}

async function attachRun(db: PrismaClient, mapId: number, options: ClaimOptions): Promise<number> {
  const run = await db.run.create({
    data: { kind: 'map', datasetId: options.datasetId, phase: 'neighbors', total: Number(options.params.iterations ?? 0), params: { mapId, ...options.params } as Prisma.InputJsonObject },
  });
  await db.map.update({ where: { id: mapId }, data: { runId: run.id } });
  return run.id;
}

/** Progress of a claimed map: the run's phase and counts, and both heartbeats. */
export async function touchMap(db: Db, mapId: number, runId: number, progress: MapProgressUpdate): Promise<void> {
  await db.run.update({
    where: { id: runId },
    data: { phase: progress.phase, done: progress.done, total: progress.total, ...(progress.rate === undefined ? {} : { rate: progress.rate }) },
  });
  await db.map.updateMany({ where: { id: mapId, status: 'running' }, data: { updatedAt: new Date() } });
}

export interface FinishedMap {
  readonly imageIds: Int32Array;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly klDivergence: number;
  readonly params: Record<string, unknown>;
  /** Gradient steps taken. */
  readonly steps: number;
}

/** Stores a computed map's points and marks it and its run done. */
export async function finishMap(db: PrismaClient, mapId: number, runId: number, result: FinishedMap): Promise<MapRow> {
  const now = new Date();
  const ids = result.imageIds;
  for (let i = 1; i < ids.length; i++) {
    if ((ids[i] as number) <= (ids[i - 1] as number)) throw new RangeError(`map image ids must be ascending; ${ids[i]} follows ${ids[i - 1]} at ${i}`);
  }
  await db.$transaction([
    db.map.update({
      where: { id: mapId },
      data: {
        status: 'done',
        pointCount: ids.length,
        klDivergence: result.klDivergence,
        coordinates: encodeCoordinates(result.x, result.y),
        imageIds: encodeImageIds(ids),
        params: result.params as Prisma.InputJsonObject,
        error: null,
        finishedAt: now,
      },
    }),
    db.run.update({ where: { id: runId }, data: { status: 'done', phase: 'done', done: result.steps, finishedAt: now } }),
  ]);
  return decode(await db.map.findUniqueOrThrow({ where: { id: mapId }, include: mapInclude }));
}

/** Marks a claimed map and its run failed; the next request computes it again. */
export async function failMap(db: PrismaClient, mapId: number, runId: number, error: string): Promise<void> {
  const now = new Date();
  await db.$transaction([
    db.map.updateMany({ where: { id: mapId, status: 'running' }, data: { status: 'failed', error, finishedAt: now } }),
    db.run.update({ where: { id: runId }, data: { status: 'failed', errors: [{ error }], finishedAt: now } }),
  ]);
}

/** Records the mosaic last rendered from a map (path as storedPath gives it) and how. */
export async function setMapMosaic(db: Db, mapId: number, path: string, mosaic: Record<string, unknown>): Promise<void> {
  const row = await db.map.findUniqueOrThrow({ where: { id: mapId }, select: { params: true } });
  const params = typeof row.params === 'object' && row.params !== null && !Array.isArray(row.params) ? row.params : {};
  await db.map.update({ where: { id: mapId }, data: { mosaicPath: path, params: { ...params, mosaic } as Prisma.InputJsonObject } });
}

/** Records a finished atlas build of a dataset (path as storedPath gives it). */
export async function recordAtlas(db: Db, datasetId: number, path: string, details: Record<string, unknown> & { images: number; failures: number }): Promise<number> {
  const now = new Date();
  const run = await db.run.create({
    data: {
      kind: 'map',
      status: 'done',
      datasetId,
      phase: 'atlas',
      done: details.images,
      total: details.images + details.failures,
      params: { atlasDir: path, ...details } as Prisma.InputJsonObject,
      finishedAt: now,
    },
  });
  return run.id;
}

/** What recordAtlas stored for the dataset's latest atlas build, or null. */
export async function latestAtlasDetails(db: Db, datasetId: number): Promise<(Record<string, unknown> & { atlasDir: string }) | null> {
  const run = await db.run.findFirst({
    where: { datasetId, kind: 'map', phase: 'atlas', status: 'done' },
    orderBy: { id: 'desc' },
    select: { params: true },
  });
  const params = run?.params;
  if (typeof params !== 'object' || params === null || Array.isArray(params)) return null;
  const details = params as Record<string, unknown>;
  return typeof details.atlasDir === 'string' ? { ...details, atlasDir: details.atlasDir } : null;
}

/** The folder of the dataset's latest recorded atlas (as stored), or null. */
export async function latestAtlas(db: Db, datasetId: number): Promise<string | null> {
  return (await latestAtlasDetails(db, datasetId))?.atlasDir ?? null;
}
