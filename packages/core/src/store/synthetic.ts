/**
 * Synthetic stored layers for tests and benchmarks of the vector store: clustered vectors
 * shaped like PCA output (variance falling with the component index), written through the same
 * store methods an ingest uses; optionally over a real HDF5 brick, so that maps can be drawn.
 */
import { createRandom } from '../random.js';
import type { Store } from './store.js';
import { METRICS, type HnswOptions, type Metric } from './vectors.js';

export interface ClusteredVectorsOptions {
  /** Default 100. */
  readonly clusters?: number;
  /** Spread within a cluster relative to the spread of cluster centres. Default 0.35. */
  readonly spread?: number;
  readonly seed?: number;
}

/** count x dimension float32 rows around `clusters` centres; component j scaled by 1/sqrt(1 + j/8). */
export function clusteredVectors(count: number, dimension: number, options: ClusteredVectorsOptions = {}): Float32Array {
  const clusters = options.clusters ?? 100;
  const spread = options.spread ?? 0.35;
  const random = createRandom(options.seed ?? 0);
  const scale = Float64Array.from({ length: dimension }, (_, j) => 1 / Math.sqrt(1 + j / 8));
  const centres = new Float64Array(clusters * dimension);
  for (let i = 0; i < centres.length; i++) centres[i] = random.normal() * (scale[i % dimension] as number);
  const out = new Float32Array(count * dimension);
  for (let row = 0; row < count; row++) {
    const centre = Math.floor(random.next() * clusters) * dimension;
    for (let j = 0; j < dimension; j++) {
      out[row * dimension + j] = (centres[centre + j] as number) + spread * random.normal() * (scale[j] as number);
    }
  }
  return out;
}

/** How a synthetic layer's vectors are made, stored and indexed. */
interface SyntheticVectorOptions {
  /** Default clusteredVectors(count, dimension, { seed }). */
  readonly vectors?: Float32Array;
  readonly seed?: number;
  /** Build HNSW indexes for these metrics. Default both. */
  readonly indexes?: readonly Metric[];
  readonly hnsw?: HnswOptions;
  /** Vectors per insert call. Default 2,000. */
  readonly batch?: number;
  readonly onInserted?: (done: number) => void;
}

export interface SyntheticDatasetOptions extends SyntheticVectorOptions {
  readonly name: string;
  readonly layer?: string;
  readonly count: number;
  readonly dimension: number;
  /**
   * Real images behind the rows (image i = row i of an HDF5 brick, source id "i"), so that
   * mosaics and atlases can be drawn. Default none: a folder source "(synthetic)" of 1 x 1 images.
   */
  readonly source?: { readonly path: string; readonly dataset?: string; readonly width: number; readonly height: number };
}

export interface SyntheticLayerOptions extends SyntheticVectorOptions {
  /** The dataset's name. */
  readonly dataset: string;
  readonly layer: string;
  /** The dataset's image ids, row i of `vectors` belonging to imageIds[i]. */
  readonly imageIds: Int32Array;
  readonly dimension: number;
}

export interface SyntheticLayer {
  readonly vectors: Float32Array;
  readonly insertMs: number;
  readonly indexMs: Readonly<Partial<Record<Metric, number>>>;
}

export interface SyntheticDataset {
  readonly imageIds: Int32Array;
  readonly vectors: Float32Array;
  readonly insertMs: number;
  readonly indexMs: Readonly<Partial<Record<Metric, number>>>;
}

/** Creates a dataset whose one layer holds `count` vectors (source ids "0".."count-1"). */
export async function createSyntheticDataset(store: Store, options: SyntheticDatasetOptions): Promise<SyntheticDataset> {
  const layer = options.layer ?? 'pool5';
  const source = options.source;
  if (options.vectors && options.vectors.length !== options.count * options.dimension) {
    throw new RangeError(`vectors hold ${options.vectors.length} values, expected ${options.count} x ${options.dimension}`);
  }
  const imageIds = await store.withPrisma(async (prisma) => {
    const model = await prisma.model.upsert({
      where: { sha256: 'synthetic'.padEnd(64, '0') },
      create: { name: 'synthetic', sha256: 'synthetic'.padEnd(64, '0') },
      update: {},
    });
    const dataset = await prisma.dataset.create({
      data: source
        ? { name: options.name, sourceKind: 'hdf5', sourcePath: source.path, sourceDataset: source.dataset ?? 'imgBrick', imageCount: options.count, modelId: model.id }
        : { name: options.name, sourceKind: 'folder', sourcePath: '(synthetic)', imageCount: options.count, modelId: model.id },
    });
    for (let start = 0; start < options.count; start += 5000) {
      const end = Math.min(options.count, start + 5000);
      await prisma.image.createMany({
        data: Array.from({ length: end - start }, (_, i) => ({ datasetId: dataset.id, index: start + i, sourceId: String(start + i), width: source?.width ?? 1, height: source?.height ?? 1 })),
      });
    }
    const rows = await prisma.image.findMany({ where: { datasetId: dataset.id }, orderBy: { index: 'asc' }, select: { id: true } });
    return Int32Array.from(rows, (row) => row.id);
  });
  const made = await addSyntheticLayer(store, {
    dataset: options.name,
    layer,
    imageIds,
    dimension: options.dimension,
    ...(options.vectors ? { vectors: options.vectors } : {}),
    ...(options.seed !== undefined ? { seed: options.seed } : {}),
    ...(options.indexes ? { indexes: options.indexes } : {}),
    ...(options.hnsw ? { hnsw: options.hnsw } : {}),
    ...(options.batch ? { batch: options.batch } : {}),
    ...(options.onInserted ? { onInserted: options.onInserted } : {}),
  });
  return { imageIds, ...made };
}

/** Stores one more layer of a synthetic dataset: its vectors, HNSW indexes, status ready. */
export async function addSyntheticLayer(store: Store, options: SyntheticLayerOptions): Promise<SyntheticLayer> {
  const count = options.imageIds.length;
  const vectors = options.vectors ?? clusteredVectors(count, options.dimension, { seed: options.seed });
  if (vectors.length !== count * options.dimension) {
    throw new RangeError(`vectors hold ${vectors.length} values, expected ${count} x ${options.dimension}`);
  }
  await store.withPrisma(async (prisma) => {
    const dataset = await prisma.dataset.findUniqueOrThrow({ where: { name: options.dataset }, select: { id: true, modelId: true } });
    await prisma.datasetLayer.create({
      data: { datasetId: dataset.id, layer: options.layer, modelId: dataset.modelId, components: options.dimension, status: 'ingesting' },
    });
  });
  const batch = options.batch ?? 2000;
  const started = performance.now();
  for (let start = 0; start < count; start += batch) {
    const end = Math.min(count, start + batch);
    await store.insertVectors(options.dataset, options.layer, options.imageIds.subarray(start, end), vectors.subarray(start * options.dimension, end * options.dimension));
    options.onInserted?.(end);
  }
  const insertMs = performance.now() - started;
  const indexMs: Partial<Record<Metric, number>> = {};
  for (const metric of options.indexes ?? METRICS) {
    const t = performance.now();
    await store.buildIndexes(options.dataset, options.layer, [metric], options.hnsw);
    indexMs[metric] = performance.now() - t;
  }
  await store.withPrisma((prisma) =>
    prisma.datasetLayer.updateMany({ where: { dataset: { name: options.dataset }, layer: options.layer }, data: { status: 'ready' } }),
  );
  return { vectors, insertMs, indexMs };
}

/** Exact k nearest rows of `data` to row `query` (itself excluded), by cosine or L2 distance. */
export function exactNeighbors(data: Float32Array, dimension: number, query: number, k: number, metric: Metric): Int32Array {
  const count = data.length / dimension;
  const q = data.subarray(query * dimension, (query + 1) * dimension);
  let qq = 0;
  for (let j = 0; j < dimension; j++) qq += (q[j] as number) ** 2;
  const distances = new Float64Array(count);
  for (let row = 0; row < count; row++) {
    let dot = 0;
    let rr = 0;
    const offset = row * dimension;
    for (let j = 0; j < dimension; j++) {
      const v = data[offset + j] as number;
      dot += v * (q[j] as number);
      rr += v * v;
    }
    distances[row] = metric === 'cosine' ? 1 - dot / Math.sqrt(qq * rr) : Math.sqrt(Math.max(0, qq + rr - 2 * dot));
  }
  distances[query] = Number.POSITIVE_INFINITY;
  const order = Array.from({ length: count }, (_, i) => i).sort((a, b) => (distances[a] as number) - (distances[b] as number));
  return Int32Array.from(order.slice(0, k));
}
