/**
 * t-SNE maps of stored layers: computed once per (dataset layer, perplexity, seed, iterations,
 * method) from the layer's PCA vectors and kept in the store; asking again returns the stored
 * map. Concurrent requests for one map share one computation: in this process through a
 * registry of running promises, across processes through the map row's claim and heartbeat
 * (store/maps-repository.ts).
 */
import { availableParallelism } from 'node:os';
import { ConflictError, InvalidInputError, NotFoundError } from '../store/errors.js';
import {
  claimMap,
  failMap,
  findMapById,
  findMapByKey,
  finishMap,
  latestAtlas,
  listMapRows,
  MAP_METHODS,
  resolveStoredPath,
  touchMap,
  type MapRow,
  type MapRowKey,
} from '../store/maps-repository.js';
import type { Store } from '../store/store.js';
import { readVectors } from '../store/vectors.js';
import { chooseMethod } from '../tsne/method.js';
import { tsne } from '../tsne/tsne.js';
import type { TsneMethod, TsneProgress } from '../tsne/types.js';
import type { ComputeMapOptions, MapDetails, MapKey, MapRecord } from './types.js';

const DEFAULT_STALE_AFTER_MS = 5 * 60_000;
/** Progress is written to the run (and the heartbeat refreshed) at most this often. */
const HEARTBEAT_MS = 2000;
const MAX_INT4 = 0x7fffffff;
/** Vectors per query when reading a layer. */
const VECTOR_PAGE = 4096;

/** Running computations of this process, per store and map key. */
const running = new WeakMap<Store, Map<string, Promise<MapRecord>>>();

interface ResolvedLayer {
  readonly dataset: string;
  readonly datasetId: number;
  readonly layer: string;
  readonly layerId: number;
  readonly dimension: number;
  readonly points: number;
  readonly status: string;
}

interface Params {
  readonly perplexity: number;
  readonly seed: number;
  readonly iterations: number;
  readonly method: TsneMethod | 'auto';
}

function checkParams(options: { perplexity?: number; seed?: number; iterations?: number; method?: TsneMethod | 'auto' }): Params {
  const perplexity = options.perplexity ?? 30;
  const seed = options.seed ?? 0;
  const iterations = options.iterations ?? 1000;
  const method = options.method ?? 'auto';
  if (typeof perplexity !== 'number' || !Number.isFinite(perplexity) || perplexity <= 0) {
    throw new InvalidInputError(`perplexity must be a finite number > 0, got ${String(perplexity)}`);
  }
  if (!Number.isInteger(seed) || seed < 0 || seed > MAX_INT4) throw new InvalidInputError(`seed must be an integer in [0, ${MAX_INT4}], got ${String(seed)}`);
  if (!Number.isInteger(iterations) || iterations < 1 || iterations > MAX_INT4) {
    throw new InvalidInputError(`iterations must be an integer in [1, ${MAX_INT4}], got ${String(iterations)}`);
  }
  if (method !== 'auto' && !MAP_METHODS.includes(method)) {
    throw new InvalidInputError(`method must be one of auto, ${MAP_METHODS.join(', ')}; got "${String(method)}"`);
  }
  return { perplexity, seed, iterations, method };
}

/** The dataset's name for a name or a database id. */
async function datasetName(store: Store, dataset: string | number): Promise<string> {
  if (typeof dataset === 'string') return dataset;
  if (!Number.isInteger(dataset)) throw new InvalidInputError(`dataset must be a name or an integer id, got ${String(dataset)}`);
  const row =
    dataset >= 1 && dataset <= MAX_INT4 ? await store.withPrisma((prisma) => prisma.dataset.findUnique({ where: { id: dataset }, select: { name: true } })) : null;
  if (row === null) throw new NotFoundError(`unknown dataset id ${dataset}`);
  return row.name;
}

async function resolveLayer(store: Store, dataset: string | number, layer: string): Promise<ResolvedLayer> {
  const name = await datasetName(store, dataset);
  const record = await store.getLayer(name, layer);
  return {
    dataset: name,
    datasetId: record.datasetId,
    layer: record.layer,
    layerId: record.id,
    dimension: record.components,
    points: record.vectorCount,
    status: record.status,
  };
}

function rowKey(layer: ResolvedLayer, params: Params): MapRowKey {
  return { datasetLayerId: layer.layerId, perplexity: params.perplexity, seed: params.seed, iterations: params.iterations, method: chooseMethod(layer.points, params.method) };
}

async function toRecord(store: Store, row: MapRow, names: { dataset: string; datasetId: number; layer: string }): Promise<MapRecord> {
  const atlas = await store.withPrisma((prisma) => latestAtlas(prisma, names.datasetId));
  const params = row.params as MapDetails & Record<string, unknown>;
  const details: MapDetails = {
    ...(params.requestedMethod === undefined ? {} : { requestedMethod: params.requestedMethod }),
    ...(params.neighbors === undefined ? {} : { neighbors: params.neighbors }),
    ...(params.steps === undefined ? {} : { steps: params.steps }),
    ...(params.iterationsRun === undefined ? {} : { iterationsRun: params.iterationsRun }),
    ...(params.dimension === undefined ? {} : { dimension: params.dimension }),
    ...(params.threads === undefined ? {} : { threads: params.threads }),
    ...(params.timings === undefined ? {} : { timings: params.timings }),
    ...(params.mosaic === undefined ? {} : { mosaic: params.mosaic }),
  };
  return {
    id: row.id,
    dataset: names.dataset,
    datasetId: names.datasetId,
    layer: names.layer,
    perplexity: row.perplexity,
    seed: row.seed,
    iterations: row.iterations,
    method: row.method,
    status: row.status,
    klDivergence: row.klDivergence,
    imageIds: row.imageIds,
    x: row.x,
    y: row.y,
    pointCount: row.pointCount,
    createdAt: row.createdAt,
    finishedAt: row.finishedAt,
    ...(row.mosaicPath === null ? {} : { mosaicPath: resolveStoredPath(store.layout, row.mosaicPath) }),
    ...(atlas === null ? {} : { atlasDir: resolveStoredPath(store.layout, atlas) }),
    ...(row.error === null ? {} : { error: row.error }),
    ...(row.status === 'running' && row.progress !== null ? { progress: { phase: row.progress.phase, done: row.progress.done, total: row.progress.total } } : {}),
    details,
  };
}

/**
 * The map of a dataset layer for these parameters: the stored one when it exists (without
 * recomputing; `onProgress` is then never called), else computed from the layer's stored
 * vectors, stored, and returned.
 */
export async function computeMap(store: Store, options: ComputeMapOptions): Promise<MapRecord> {
  const params = checkParams(options);
  const threads = options.threads ?? availableParallelism();
  if (!Number.isInteger(threads) || threads < 1) throw new InvalidInputError(`threads must be a positive integer, got ${String(threads)}`);
  options.signal?.throwIfAborted();
  const layer = await resolveLayer(store, options.dataset, options.layer);
  const key = rowKey(layer, params);
  const stored = await store.withPrisma((prisma) => findMapByKey(prisma, key));
  if (stored?.status === 'done') return toRecord(store, stored, layer);

  if (layer.status !== 'ready') {
    throw new ConflictError(
      `layer ${layer.layer} of dataset "${layer.dataset}" is not fully ingested (status ${layer.status}, ${layer.points} vectors); finish \`strata ingest\` first`,
    );
  }
  if (layer.points <= params.perplexity) {
    const minimum = Math.floor(params.perplexity) + 1;
    throw new InvalidInputError(
      `perplexity ${params.perplexity} needs at least ${minimum} images (perplexity < images); layer ${layer.layer} of dataset "${layer.dataset}" has ${layer.points}` +
        (layer.points >= 2 ? `; use a perplexity below ${layer.points}` : ''),
    );
  }

  let inProcess = running.get(store);
  if (inProcess === undefined) running.set(store, (inProcess = new Map()));
  const id = `${key.datasetLayerId}|${key.perplexity}|${key.seed}|${key.iterations}|${key.method}`;
  const pending = inProcess.get(id);
  if (pending !== undefined) return pending;
  const task = claimAndCompute(store, layer, key, params, threads, options);
  inProcess.set(id, task);
  try {
    return await task;
  } finally {
    inProcess.delete(id);
  }
}

async function claimAndCompute(store: Store, layer: ResolvedLayer, key: MapRowKey, params: Params, threads: number, options: ComputeMapOptions): Promise<MapRecord> {
  // On the embedded database this process is the only one: a running map it is not computing
  // was left by a process that died.
  const staleAfter = store.backend === 'pglite' ? -1000 : (options.staleAfterMs ?? DEFAULT_STALE_AFTER_MS);
  const pollMs = options.pollMs ?? 1000;
  const claimParams = { requestedMethod: params.method, perplexity: key.perplexity, seed: key.seed, iterations: key.iterations, method: key.method, dimension: layer.dimension };
  for (;;) {
    options.signal?.throwIfAborted();
    const claim = await store.withPrisma((prisma) =>
      claimMap(prisma, key, { datasetId: layer.datasetId, pointCount: layer.points, params: claimParams, staleBefore: new Date(Date.now() - staleAfter) }),
    );
    if (claim.claimed) return compute(store, layer, key, params, threads, claim.map.id, claim.runId, options);
    if (claim.map.status === 'done') return toRecord(store, claim.map, layer);
    // Another process is computing it: wait for it to finish, fail or go silent.
    await sleep(pollMs, options.signal);
  }
}

async function compute(
  store: Store,
  layer: ResolvedLayer,
  key: MapRowKey,
  params: Params,
  threads: number,
  mapId: number,
  runId: number,
  options: ComputeMapOptions,
): Promise<MapRecord> {
  const started = performance.now();
  let lastBeat = 0;
  let beat: Promise<void> = Promise.resolve();
  const heartbeat = (phase: string, done: number, total: number, force = false): void => {
    const now = performance.now();
    if (!force && now - lastBeat < HEARTBEAT_MS) return;
    lastBeat = now;
    const rate = phase === 'exaggeration' || phase === 'embedding' ? done / Math.max((now - started) / 1000, 1e-3) : undefined;
    // One write at a time, in order; a failed heartbeat does not stop the computation.
    beat = beat.then(() => store.withPrisma((prisma) => touchMap(prisma, mapId, runId, { phase, done, total, ...(rate === undefined ? {} : { rate }) }))).catch(() => undefined);
  };
  try {
    heartbeat('vectors', 0, key.iterations, true);
    const { imageIds, vectors, dimension } = await readLayerVectors(store, layer, options.signal);
    const n = imageIds.length;
    const read = performance.now();
    if (n <= params.perplexity) {
      throw new InvalidInputError(`perplexity ${params.perplexity} needs at least ${Math.floor(params.perplexity) + 1} images; layer ${layer.layer} of dataset "${layer.dataset}" has ${n}`);
    }
    let phase = '';
    const result = await tsne(vectors, n, dimension, {
      perplexity: params.perplexity,
      seed: key.seed,
      iterations: key.iterations,
      method: key.method,
      threads,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
      onProgress: (progress: TsneProgress) => {
        options.onProgress?.(progress);
        const optimizing = progress.phase === 'exaggeration' || progress.phase === 'embedding';
        heartbeat(progress.phase, optimizing ? progress.iteration + 1 : 0, key.iterations, progress.phase !== phase);
        phase = progress.phase;
      },
    });
    const x = new Float32Array(n);
    const y = new Float32Array(n);
    for (let i = 0; i < n; i++) {
      x[i] = result.embedding[2 * i] as number;
      y[i] = result.embedding[2 * i + 1] as number;
    }
    await beat;
    const details = {
      requestedMethod: params.method,
      perplexity: key.perplexity,
      seed: key.seed,
      iterations: key.iterations,
      method: key.method,
      neighbors: result.neighbors,
      steps: result.steps,
      iterationsRun: result.iterations,
      dimension,
      threads,
      // Seconds; total is up to the store write.
      timings: {
        readVectors: (read - started) / 1000,
        neighbors: result.timings.neighbors,
        affinities: result.timings.affinities,
        optimization: result.timings.optimization,
        tsne: result.timings.total,
        total: (performance.now() - started) / 1000,
      },
    };
    const row = await store.withPrisma((prisma) =>
      finishMap(prisma, mapId, runId, { imageIds, x, y, klDivergence: result.klDivergence, params: details, steps: result.iterations }),
    );
    return toRecord(store, row, layer);
  } catch (error) {
    await beat;
    const aborted = options.signal?.aborted === true;
    const message = aborted ? 'interrupted' : error instanceof Error ? error.message : String(error);
    await store.withPrisma((prisma) => failMap(prisma, mapId, runId, message)).catch(() => undefined);
    throw error;
  }
}

/**
 * The layer's vectors in image-id order, read a page at a time: one query for all 73,000 rows
 * of a layer has the database build ~190 MB of pgvector text at once (1.4 GB peak on PGlite).
 */
async function readLayerVectors(store: Store, layer: ResolvedLayer, signal: AbortSignal | undefined): Promise<{ imageIds: Int32Array; vectors: Float32Array; dimension: number }> {
  const space = { id: layer.layerId, dimension: layer.dimension };
  const rows = await store.withPrisma((prisma) =>
    prisma.featureVector.findMany({ where: { datasetLayerId: layer.layerId }, select: { imageId: true }, orderBy: { imageId: 'asc' } }),
  );
  const imageIds = Int32Array.from(rows, (row) => row.imageId);
  const vectors = new Float32Array(imageIds.length * layer.dimension);
  for (let start = 0; start < imageIds.length; start += VECTOR_PAGE) {
    signal?.throwIfAborted();
    const ids = Array.from(imageIds.subarray(start, start + VECTOR_PAGE));
    const page = await store.withPrisma((prisma) => readVectors(prisma, space, ids));
    if (page.imageIds.length !== ids.length) {
      throw new ConflictError(`layer ${layer.layer} of dataset "${layer.dataset}" changed while its vectors were read; try again`);
    }
    vectors.set(page.vectors, start * layer.dimension);
  }
  return { imageIds, vectors, dimension: layer.dimension };
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}

/**
 * A stored map by id, or by its parameters (defaults as computeMap's); null when there is
 * none. Unknown datasets and layers are NotFoundErrors.
 */
export async function getMap(store: Store, key: MapKey): Promise<MapRecord | null> {
  if (typeof key === 'number') {
    const row = await store.withPrisma((prisma) => findMapById(prisma, key));
    if (row === null) return null;
    const names = await store.withPrisma((prisma) =>
      prisma.datasetLayer.findUniqueOrThrow({ where: { id: row.datasetLayerId }, select: { layer: true, datasetId: true, dataset: { select: { name: true } } } }),
    );
    return toRecord(store, row, { dataset: names.dataset.name, datasetId: names.datasetId, layer: names.layer });
  }
  const params = checkParams(key);
  const layer = await resolveLayer(store, key.dataset, key.layer);
  const row = await store.withPrisma((prisma) => findMapByKey(prisma, rowKey(layer, params)));
  return row === null ? null : toRecord(store, row, layer);
}

/** Every stored map of a dataset (any status), oldest first. */
export async function listMaps(store: Store, dataset: string | number): Promise<MapRecord[]> {
  const record = await store.getDataset(await datasetName(store, dataset));
  const layers = new Map(record.layers.map((layer) => [layer.id, layer.layer]));
  const rows = await store.withPrisma((prisma) => listMapRows(prisma, [...layers.keys()]));
  const out: MapRecord[] = [];
  for (const row of rows) out.push(await toRecord(store, row, { dataset: record.name, datasetId: record.id, layer: layers.get(row.datasetLayerId) ?? '' }));
  return out;
}
