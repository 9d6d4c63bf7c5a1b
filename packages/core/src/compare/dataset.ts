/**
 * Comparisons of the layers of an ingested dataset, on the PCA vectors in the store: one pair
 * by all three metrics, the layer x layer matrix of one metric, and an external (brain) RDM
 * against every layer. Results are stored (packages/core/src/store/comparisons-repository.ts)
 * and reused for the same question while the layers' vectors stay the same; a layer
 * re-ingested since (another PCA basis, more vectors) makes them stale and they are computed
 * again. The numbers are those of the library functions on the vectors read back in image-id
 * order: vectors are read from the database in blocks (CKA), one layer at a time (kNN) or only
 * for the sampled images (RSA, RDMs), so memory stays within the library's budgets.
 */
import { createHash } from 'node:crypto';
import { LAYERS } from '../layers.js';
import {
  comparisonInputs,
  comparisonKey,
  datasetImageIds,
  findComparisons,
  layerImageIds,
  listComparisonRows,
  readVectorRows,
  saveComparisons,
  type ComparedLayer,
  type ComparisonAnswer,
  type ComparisonQuestion,
  type StoredComparison,
  type StoredComparisonMetric,
} from '../store/comparisons-repository.js';
import { ConflictError, InvalidInputError, NotFoundError } from '../store/errors.js';
import type { DatasetRecord, LayerRecord, Store } from '../store/store.js';
import type { VectorSpace } from '../store/vectors.js';
import { DEFAULT_MEMORY_BYTES } from './cka.js';
import { validateRdm, type ExternalRdm } from './external-rdm.js';
import type { FeatureSource, NamedFeatures } from './features.js';
import type { Kernel } from './kernel.js';
import { DEFAULT_K, type KnnDistance } from './knn.js';
import { compareLayers, DEFAULT_MAX_QUERIES, type CompareProgress } from './layer-matrix.js';
import { ALTERNATIVES, correlateRdmWithLayers, DEFAULT_BRAIN_MAX_IMAGES, DEFAULT_PERMUTATIONS, type Alternative } from './mantel.js';
import { COMPARISON_METRICS, formatMetric, parseMetric, type ComparisonMetric } from './metric.js';
import { upperTriangleSize } from './rdm.js';
import { DEFAULT_RSA_MAX_IMAGES } from './rsa.js';

/** Options every dataset comparison takes. */
export interface DatasetComparisonOptions {
  readonly dataset: string;
  /** Seed of the rsa image sample, the knn query sample and the RDM permutations. Default 0. */
  readonly seed?: number;
  /** Most bytes of working memory. Default 1 GiB. */
  readonly memoryBytes?: number;
  /** cka and knn: 'auto' (default), 'onnxruntime' or 'float64'. */
  readonly kernel?: Kernel;
  /** Compute again even when a stored result is current (and overwrite it). Default false. */
  readonly recompute?: boolean;
  readonly onProgress?: (progress: CompareProgress) => void;
  readonly signal?: AbortSignal;
}

export interface PairMetricOptions {
  /** knn: neighbours per image. Default 10. */
  readonly k?: number;
  /** knn: default 'cosine'. */
  readonly distance?: KnnDistance;
  /** rsa: most images an RDM is built over (seeded sample above). Default 2000. */
  readonly maxImages?: number;
  /** knn: most query images (seeded sample above). Default 5000. */
  readonly maxQueries?: number;
}

export interface CompareDatasetLayersOptions extends DatasetComparisonOptions, PairMetricOptions {
  readonly layerA: string;
  readonly layerB: string;
  /** Default ['cka', 'rsa', 'knn']. */
  readonly metrics?: readonly ComparisonMetric[];
}

/** One metric's stored result. */
export interface StoredMetricResult {
  /** As written on the command line: cka, cka-debiased, rsa, knn:K. */
  readonly metric: string;
  readonly value: number;
  readonly images: number;
  readonly imagesUsed: number;
  readonly exact: boolean;
  /** True when the stored result was current and nothing was computed. */
  readonly reused: boolean;
  /** The `comparison` row and when it was computed. */
  readonly id: number;
  readonly computedAt: Date;
}

export interface DatasetLayerComparison {
  readonly dataset: string;
  readonly layerA: string;
  readonly layerB: string;
  /** Images both layers hold vectors for. */
  readonly images: number;
  /** Linear CKA, or null when not asked for. */
  readonly cka: number | null;
  readonly ckaDebiased: number | null;
  /** Spearman's rho between the layers' RDMs. */
  readonly rsa: number | null;
  /** Mean Jaccard overlap of each image's k nearest neighbours in the two layers. */
  readonly knnOverlap: number | null;
  /** Every metric asked for, in the order asked. */
  readonly results: readonly StoredMetricResult[];
}

export interface LayerSimilarityMatrixOptions extends DatasetComparisonOptions, PairMetricOptions {
  /** cka, cka-debiased, rsa, knn or knn:K. */
  readonly metric: ComparisonMetric | string;
  /** Default: every ready layer of the dataset, in network order. */
  readonly layers?: readonly string[];
}

export interface DatasetLayerMatrix {
  readonly dataset: string;
  /** cka, cka-debiased, rsa or knn:K. */
  readonly metric: string;
  readonly layers: readonly string[];
  /** layers x layers, row-major, symmetric, 1 on the diagonal. */
  readonly values: Float64Array;
  readonly images: number;
  readonly imagesUsed: number;
  readonly exact: boolean;
  /** Layer pairs taken from the store, and computed now. */
  readonly reusedPairs: number;
  readonly computedPairs: number;
  readonly k?: number;
  readonly distance?: KnnDistance;
}

export interface CorrelateBrainRdmOptions extends DatasetComparisonOptions {
  /** From readRdmFile (or any ExternalRdm; it is validated again). Its ids are the images' source ids. */
  readonly rdm: ExternalRdm;
  /** Default: every ready layer of the dataset, in network order. */
  readonly layers?: readonly string[];
  /** Default 1000; 0 skips the test (p is then null). */
  readonly permutations?: number;
  /** Default 'greater'. */
  readonly alternative?: Alternative;
  /** Most RDM images used (seeded sample above). Default 2000. */
  readonly maxImages?: number;
}

export interface LayerBrainCorrelation {
  readonly layer: string;
  readonly rho: number;
  /** Permutation p-value; null without permutations. */
  readonly p: number | null;
  readonly reused: boolean;
}

export interface DatasetBrainCorrelation {
  readonly dataset: string;
  /** The RDM's label (its file) and the sha256 its results are stored under. */
  readonly rdm: string;
  readonly rdmSha256: string;
  /** RDM images used (all, or a seeded sample of maxImages). */
  readonly images: number;
  readonly pairs: number;
  readonly permutations: number;
  readonly alternative: Alternative;
  readonly exact: boolean;
  readonly layers: readonly LayerBrainCorrelation[];
}

// ---- the layers of a dataset, as the comparisons see them ----

interface ResolvedLayer extends ComparedLayer {
  readonly record: LayerRecord;
}

interface ResolvedDataset {
  readonly record: DatasetRecord;
  readonly layers: readonly ResolvedLayer[];
  /** Images every layer holds. */
  readonly images: number;
  /** Their database ids, ascending: the row order of every layer (read when first asked for). */
  imageIds(): Promise<Int32Array>;
}

const NETWORK_ORDER = new Map(LAYERS.map((layer, i) => [layer.name, i]));

function sameIds(a: Int32Array, b: Int32Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/** The dataset, the named layers (default: the ready ones, in network order) and the images they all hold. */
async function resolveDataset(store: Store, dataset: string, names: readonly string[] | undefined, minimum: number): Promise<ResolvedDataset> {
  const record = await store.getDataset(dataset);
  let layers: LayerRecord[];
  if (names === undefined) {
    layers = record.layers.filter((layer) => layer.status === 'ready');
    layers.sort((a, b) => (NETWORK_ORDER.get(a.layer) ?? 99) - (NETWORK_ORDER.get(b.layer) ?? 99));
    if (layers.length < minimum) {
      throw new ConflictError(
        `dataset "${dataset}" has ${layers.length} ready layer${layers.length === 1 ? '' : 's'}` +
          (record.layers.length > 0 ? ` (${record.layers.map((l) => `${l.layer}: ${l.status}`).join(', ')})` : '') +
          `; comparing needs at least ${minimum}; finish their ingest (\`strata ingest\`) or name the layers`,
      );
    }
  } else {
    if (names.length < minimum) throw new InvalidInputError(`${names.length} layer(s) given; expected at least ${minimum}`);
    layers = names.map((name) => {
      const layer = record.layers.find((l) => l.layer === name);
      if (!layer) {
        throw new NotFoundError(`dataset "${dataset}" has no layer "${name}"; it has ${record.layers.length === 0 ? 'none yet' : record.layers.map((l) => l.layer).join(', ')}`);
      }
      return layer;
    });
  }
  const resolved = layers.map((layer) => ({ id: layer.id, layer: layer.layer, basisSha256: layer.pcaBasis?.sha256 ?? null, vectorCount: layer.vectorCount, record: layer }));
  for (const layer of resolved) {
    if (layer.vectorCount === 0) throw new ConflictError(`layer ${layer.layer} of dataset "${dataset}" has no vectors yet (status ${layer.record.status}); finish its ingest first`);
  }
  // A layer holding a vector for every stored image needs no check (vectors belong to the
  // dataset's images); otherwise the layers' image sets are read and compared.
  if (resolved.every((layer) => layer.vectorCount === record.storedImages)) {
    let ids: Promise<Int32Array> | undefined;
    return {
      record,
      layers: resolved,
      images: record.storedImages,
      imageIds: () => (ids ??= store.withPrisma(async (db) => (await datasetImageIds(db, record.id)).ids)),
    };
  }
  let imageIds: Int32Array | undefined;
  let first: ResolvedLayer | undefined;
  const seen = new Map<number, Int32Array>();
  for (const layer of resolved) {
    const ids = seen.get(layer.id) ?? (await store.withPrisma((db) => layerImageIds(db, layer.id)));
    seen.set(layer.id, ids);
    if (imageIds === undefined || first === undefined) {
      imageIds = ids;
      first = layer;
    } else if (!sameIds(ids, imageIds)) {
      throw new ConflictError(
        `layers ${first.layer} and ${layer.layer} of dataset "${dataset}" hold vectors for different images ` +
          `(${imageIds.length}, status ${first.record.status}, and ${ids.length}, status ${layer.record.status}); ` +
          'comparisons need the same images in every layer: finish the ingest of both',
      );
    }
  }
  const common = imageIds ?? new Int32Array(0);
  return { record, layers: resolved, images: common.length, imageIds: () => Promise.resolve(common) };
}

/** Vectors per database query. */
const READ_PAGE = 4096;

/** Blocks read from the database kept for a second pass, up to a byte budget shared by the layers of one computation. */
class BlockCache {
  readonly #blocks = new Map<string, Float32Array>();
  #bytes = 0;

  constructor(readonly budget: number) {}

  async get(key: string, read: () => Promise<Float32Array>): Promise<Float32Array> {
    const hit = this.#blocks.get(key);
    if (hit) return hit;
    const block = await read();
    if (this.#bytes + block.byteLength <= this.budget) {
      this.#blocks.set(key, block);
      this.#bytes += block.byteLength;
    }
    return block;
  }
}

/**
 * One stored layer as a FeatureSource: rows are `imageIds` in order, read from the database
 * a block (or a gathered sample) at a time. With a cache, blocks are kept for the next pass
 * (CKA reads every block twice).
 */
class StoredLayerSource implements FeatureSource {
  readonly rows: number;
  readonly columns: number;

  constructor(
    readonly store: Store,
    readonly space: VectorSpace,
    readonly imageIds: Int32Array,
    readonly cache: BlockCache | undefined,
  ) {
    this.rows = imageIds.length;
    this.columns = space.dimension;
  }

  read(rowStart: number, rowEnd: number, colStart: number, colEnd: number): Promise<Float32Array> {
    const read = () => this.#readIds(this.imageIds.subarray(rowStart, rowEnd), colStart, colEnd);
    return this.cache ? this.cache.get(`${this.space.id}:${rowStart}:${rowEnd}:${colStart}:${colEnd}`, read) : read();
  }

  readRows(rows: Int32Array, colStart: number, colEnd: number): Promise<Float32Array> {
    return this.#readIds(Int32Array.from(rows, (row) => this.imageIds[row] as number), colStart, colEnd);
  }

  /**
   * At most READ_PAGE vectors per query: the database builds a query's whole answer as text
   * first, and a whole 73,000-image layer at once peaks PGlite at 1.4 GB.
   */
  async #readIds(ids: Int32Array, colStart: number, colEnd: number): Promise<Float32Array> {
    if (ids.length <= READ_PAGE) return this.store.withPrisma((db) => readVectorRows(db, this.space, ids, colStart, colEnd));
    const width = colEnd - colStart;
    const out = new Float32Array(ids.length * width);
    for (let start = 0; start < ids.length; start += READ_PAGE) {
      const page = ids.subarray(start, Math.min(ids.length, start + READ_PAGE));
      out.set(await this.store.withPrisma((db) => readVectorRows(db, this.space, page, colStart, colEnd)), start * width);
    }
    return out;
  }
}


/** The layers as sources; CKA (two passes over every block) keeps blocks within half the memory budget. */
async function features(store: Store, resolved: ResolvedDataset, layers: readonly ResolvedLayer[], metric: ComparisonMetric | 'rdm', memoryBytes: number | undefined): Promise<NamedFeatures[]> {
  const imageIds = await resolved.imageIds();
  const cache = metric === 'cka' || metric === 'cka-debiased' ? new BlockCache((memoryBytes ?? DEFAULT_MEMORY_BYTES) / 2) : undefined;
  return layers.map((layer) => ({ name: layer.layer, features: new StoredLayerSource(store, { id: layer.id, dimension: layer.record.components }, imageIds, cache) }));
}

// ---- questions: what a stored row answers ----

function checkCount(value: number, name: string, minimum: number): number {
  if (!Number.isInteger(value) || value < minimum) throw new InvalidInputError(`${name} must be an integer >= ${minimum}, got ${value}`);
  return value;
}

interface PairSettings {
  readonly k: number;
  readonly distance: KnnDistance;
  readonly maxImages: number;
  readonly maxQueries: number;
  readonly seed: number;
}

function pairSettings(options: PairMetricOptions & { seed?: number }): PairSettings {
  const distance = options.distance ?? 'cosine';
  if (distance !== 'cosine' && distance !== 'euclidean') throw new InvalidInputError(`unknown kNN distance "${String(distance)}"; expected cosine or euclidean`);
  return {
    k: checkCount(options.k ?? DEFAULT_K, 'k', 1),
    distance,
    maxImages: checkCount(options.maxImages ?? DEFAULT_RSA_MAX_IMAGES, 'maxImages', 3),
    maxQueries: checkCount(options.maxQueries ?? DEFAULT_MAX_QUERIES, 'maxQueries', 1),
    seed: checkCount(options.seed ?? 0, 'seed', 0),
  };
}

/**
 * The parameters that change a metric's value over `images` images. A sample that takes
 * every image is no sample: its seed and size are left out, so they do not split the store.
 */
function metricParams(metric: ComparisonMetric, settings: PairSettings, images: number): ComparisonQuestion['params'] {
  switch (metric) {
    case 'cka':
    case 'cka-debiased':
      return {};
    case 'rsa':
      return images > settings.maxImages ? { maxImages: settings.maxImages, seed: settings.seed } : {};
    case 'knn':
      return { k: settings.k, distance: settings.distance, ...(images > settings.maxQueries ? { maxQueries: settings.maxQueries, seed: settings.seed } : {}) };
    default:
      throw new InvalidInputError(`unknown metric "${String(metric)}"; expected cka, cka-debiased, rsa or knn`);
  }
}

function parseMetricOption(metric: string, k: number | undefined): { metric: ComparisonMetric; k?: number } {
  let spec;
  try {
    spec = parseMetric(metric);
  } catch (error) {
    throw new InvalidInputError(error instanceof Error ? error.message : String(error));
  }
  if (spec.metric === 'knn' && k !== undefined && metric.includes(':') && spec.k !== k) {
    throw new InvalidInputError(`metric "${metric}" and k = ${k} disagree; give k once`);
  }
  return spec.metric === 'knn' ? { metric: 'knn', k: k ?? spec.k } : { metric: spec.metric };
}

function usedImages(metric: ComparisonMetric, settings: PairSettings, images: number): { imagesUsed: number; exact: boolean } {
  const used = metric === 'rsa' ? Math.min(images, settings.maxImages) : metric === 'knn' ? Math.min(images, settings.maxQueries) : images;
  return { imagesUsed: used, exact: used === images };
}

function fresh(stored: StoredComparison | undefined, recompute: boolean | undefined): stored is StoredComparison {
  return stored !== undefined && !stored.stale && recompute !== true;
}

// ---- the three entry points ----

/** Two layers of a dataset by CKA, RSA and kNN overlap (or the metrics asked for), stored and reused. */
export async function compareDatasetLayers(store: Store, options: CompareDatasetLayersOptions): Promise<DatasetLayerComparison> {
  const metrics = options.metrics ?? (['cka', 'rsa', 'knn'] as const);
  if (metrics.length === 0) throw new InvalidInputError('no metrics asked for; expected some of cka, cka-debiased, rsa, knn');
  for (const metric of metrics) {
    if (!COMPARISON_METRICS.includes(metric)) throw new InvalidInputError(`unknown metric "${String(metric)}"; expected some of ${COMPARISON_METRICS.join(', ')} (k is an option of its own)`);
  }
  const settings = pairSettings(options);
  const resolved = await resolveDataset(store, options.dataset, [options.layerA, options.layerB], 2);
  const [a, b] = resolved.layers as [ResolvedLayer, ResolvedLayer];
  const images = resolved.images;
  const questions = metrics.map((metric): ComparisonQuestion => ({ metric, layerA: a, layerB: b, params: metricParams(metric, settings, images) }));
  if (metrics.includes('knn') && settings.k > images - 1) throw new InvalidInputError(`k = ${settings.k} neighbours need at least ${settings.k + 1} images; dataset "${options.dataset}" has ${images}`);
  const stored = await store.withPrisma((db) => findComparisons(db, questions));
  const results = new Map<string, StoredMetricResult>();
  const missing = questions.filter((question) => {
    const row = stored.get(comparisonKey(question));
    if (!fresh(row, options.recompute)) return true;
    results.set(comparisonKey(question), toResult(question, row, true, settings));
    return false;
  });
  if (missing.length > 0) {
    const answers: { question: ComparisonQuestion; answer: ComparisonAnswer }[] = [];
    for (const question of missing) {
      const metric = question.metric as ComparisonMetric;
      const named = await features(store, resolved, [a, b], metric, options.memoryBytes);
      const result = await compareLayers(named, { ...libraryOptions(options, settings), metric });
      answers.push({ question, answer: { value: result.values[1] as number, images, imagesUsed: result.imagesUsed, exact: result.exact } });
    }
    const saved = await store.withPrisma((db) => saveComparisons(db, resolved.record.id, answers));
    saved.forEach((row, i) => {
      const question = answers[i]?.question as ComparisonQuestion;
      results.set(comparisonKey(question), toResult(question, row, false, settings));
    });
  }
  const ordered = questions.map((question) => results.get(comparisonKey(question)) as StoredMetricResult);
  const valueOf = (metric: ComparisonMetric): number | null => {
    const index = metrics.indexOf(metric);
    return index < 0 ? null : (ordered[index]?.value ?? null);
  };
  return {
    dataset: options.dataset,
    layerA: a.layer,
    layerB: b.layer,
    images,
    cka: valueOf('cka'),
    ckaDebiased: valueOf('cka-debiased'),
    rsa: valueOf('rsa'),
    knnOverlap: valueOf('knn'),
    results: ordered,
  };
}

function libraryOptions(options: DatasetComparisonOptions, settings: PairSettings) {
  return {
    k: settings.k,
    distance: settings.distance,
    maxImages: settings.maxImages,
    maxQueries: settings.maxQueries,
    seed: settings.seed,
    memoryBytes: options.memoryBytes,
    kernel: options.kernel,
    onProgress: options.onProgress,
    signal: options.signal,
  };
}

function toResult(question: ComparisonQuestion, row: StoredComparison, reused: boolean, settings: PairSettings): StoredMetricResult {
  const metric = question.metric as ComparisonMetric;
  return {
    metric: formatMetric({ metric, k: settings.k }),
    value: row.value,
    images: row.images,
    imagesUsed: row.imagesUsed,
    exact: row.exact,
    reused,
    id: row.id,
    computedAt: row.createdAt,
  };
}

/** The layer x layer matrix of one metric over a dataset's layers; stored pairs are reused, the rest computed together. */
export async function layerSimilarityMatrix(store: Store, options: LayerSimilarityMatrixOptions): Promise<DatasetLayerMatrix> {
  const spec = parseMetricOption(String(options.metric), options.k);
  const settings = pairSettings({ ...options, k: spec.k ?? options.k });
  const resolved = await resolveDataset(store, options.dataset, options.layers, 1);
  const layers = resolved.layers;
  const names = layers.map((layer) => layer.layer);
  const duplicate = names.find((name, i) => names.indexOf(name) !== i);
  if (duplicate !== undefined) throw new InvalidInputError(`layer ${duplicate} is listed twice; list each layer once`);
  const images = resolved.images;
  const metric = spec.metric;
  if (metric === 'knn' && settings.k > images - 1) throw new InvalidInputError(`k = ${settings.k} neighbours need at least ${settings.k + 1} images; dataset "${options.dataset}" has ${images}`);
  const params = metricParams(metric, settings, images);
  const count = layers.length;
  const pairs: { a: number; c: number; question: ComparisonQuestion }[] = [];
  for (let a = 0; a < count; a++) {
    for (let c = a + 1; c < count; c++) pairs.push({ a, c, question: { metric, layerA: layers[a] as ResolvedLayer, layerB: layers[c] as ResolvedLayer, params } });
  }
  const stored = await store.withPrisma((db) => findComparisons(db, pairs.map((pair) => pair.question)));
  const values = new Float64Array(count * count);
  for (let a = 0; a < count; a++) values[a * count + a] = 1;
  const missing = pairs.filter(({ a, c, question }) => {
    const row = stored.get(comparisonKey(question));
    if (!fresh(row, options.recompute)) return true;
    values[a * count + c] = row.value;
    values[c * count + a] = row.value;
    return false;
  });
  if (missing.length > 0) {
    // Only the layers some missing pair needs, computed together so each layer's costly part is shared.
    const needed = [...new Set(missing.flatMap(({ a, c }) => [a, c]))].sort((x, y) => x - y);
    const position = new Map(needed.map((layer, i) => [layer, i]));
    const result = await compareLayers(
      await features(store, resolved, needed.map((l) => layers[l] as ResolvedLayer), metric, options.memoryBytes),
      { ...libraryOptions(options, settings), metric },
    );
    const answers = missing.map(({ a, c, question }) => {
      const value = result.values[(position.get(a) as number) * needed.length + (position.get(c) as number)] as number;
      values[a * count + c] = value;
      values[c * count + a] = value;
      return { question, answer: { value, images, imagesUsed: result.imagesUsed, exact: result.exact } };
    });
    await store.withPrisma((db) => saveComparisons(db, resolved.record.id, answers));
  }
  const used = usedImages(metric, settings, images);
  return {
    dataset: options.dataset,
    metric: formatMetric({ metric, k: settings.k }),
    layers: names,
    values,
    images,
    imagesUsed: used.imagesUsed,
    exact: used.exact,
    reusedPairs: pairs.length - missing.length,
    computedPairs: missing.length,
    ...(metric === 'knn' ? { k: settings.k, distance: settings.distance } : {}),
  };
}

/** sha256 of an RDM's ids and values: the stored results of an RDM are those of exactly this matrix. */
export function rdmSha256(rdm: ExternalRdm): string {
  const hash = createHash('sha256');
  hash.update(JSON.stringify(rdm.ids));
  hash.update(new Uint8Array(rdm.values.buffer, rdm.values.byteOffset, rdm.size * rdm.size * 8));
  return hash.digest('hex');
}

/** Spearman's rho and a permutation p-value between an external RDM and each layer's RDM; stored per layer. */
export async function correlateBrainRdm(store: Store, options: CorrelateBrainRdmOptions): Promise<DatasetBrainCorrelation> {
  const permutations = checkCount(options.permutations ?? DEFAULT_PERMUTATIONS, 'permutations', 0);
  const maxImages = checkCount(options.maxImages ?? DEFAULT_BRAIN_MAX_IMAGES, 'maxImages', 3);
  const seed = checkCount(options.seed ?? 0, 'seed', 0);
  const alternative = options.alternative ?? 'greater';
  if (!ALTERNATIVES.includes(alternative)) throw new InvalidInputError(`unknown alternative "${String(alternative)}"; expected one of ${ALTERNATIVES.join(', ')}`);
  const input = options.rdm;
  let rdm: ExternalRdm;
  try {
    rdm = validateRdm(input.values, input.size, input.ids, input.label);
  } catch (error) {
    throw new InvalidInputError(error instanceof Error ? error.message : String(error));
  }
  const resolved = await resolveDataset(store, options.dataset, options.layers, 1);
  // Every RDM image must be an image of the dataset (by source id) that the layers hold.
  const { ids, sourceIds } = await store.withPrisma((db) => datasetImageIds(db, resolved.record.id));
  const bySource = new Map(sourceIds.map((sourceId, i) => [sourceId, ids[i] as number]));
  const unknown = rdm.ids.filter((id) => !bySource.has(id));
  if (unknown.length > 0) {
    throw new InvalidInputError(
      `${rdm.label}: ${unknown.length} of ${rdm.size} image ids are not images of dataset "${options.dataset}": ` +
        `${unknown.slice(0, 5).map((id) => JSON.stringify(id)).join(', ')}${unknown.length > 5 ? ', ...' : ''} ` +
        `(it has ${sourceIds.length} images, ids like ${sourceIds.slice(0, 3).map((id) => JSON.stringify(id)).join(', ')})`,
    );
  }
  const sourceOf = new Map<number, string>(Array.from(ids, (id, i) => [id, sourceIds[i] as string]));
  const layerIds = Array.from(await resolved.imageIds(), (id) => sourceOf.get(id) as string);
  const held = new Set(layerIds);
  const without = rdm.ids.filter((id) => !held.has(id));
  if (without.length > 0) {
    throw new ConflictError(
      `${rdm.label}: ${without.length} of its images have no vectors in the layers of dataset "${options.dataset}": ${without.slice(0, 5).map((id) => JSON.stringify(id)).join(', ')}`,
    );
  }
  const sha = rdmSha256(rdm);
  const sampled = rdm.size > maxImages;
  const params = { rdm: sha, permutations, alternative, ...(sampled ? { maxImages } : {}), ...(sampled || permutations > 0 ? { seed } : {}) };
  const questions = resolved.layers.map((layer): ComparisonQuestion => ({ metric: 'rdm', layerA: layer, layerB: null, params }));
  const stored = await store.withPrisma((db) => findComparisons(db, questions));
  const missing = resolved.layers.filter((_, l) => !fresh(stored.get(comparisonKey(questions[l] as ComparisonQuestion)), options.recompute));
  const computed = new Map<number, { rho: number; p: number | null }>();
  if (missing.length > 0) {
    const result = await correlateRdmWithLayers(rdm, await features(store, resolved, missing, 'rdm', options.memoryBytes), layerIds, {
      permutations,
      alternative,
      maxImages,
      seed,
      onProgress: options.onProgress,
      signal: options.signal,
    });
    const answers = missing.map((layer, i) => {
      const row = result.layers[i] as { rho: number; p: number };
      const p = permutations > 0 ? row.p : null;
      computed.set(layer.id, { rho: row.rho, p });
      const question = { metric: 'rdm' as const, layerA: layer, layerB: null, params };
      return { question, answer: { value: row.rho, pValue: p, images: resolved.images, imagesUsed: result.ids.length, exact: result.exact } };
    });
    await store.withPrisma((db) => saveComparisons(db, resolved.record.id, answers));
  }
  const used = Math.min(rdm.size, maxImages);
  return {
    dataset: options.dataset,
    rdm: rdm.label,
    rdmSha256: sha,
    images: used,
    pairs: upperTriangleSize(used),
    permutations,
    alternative,
    exact: !sampled,
    layers: resolved.layers.map((layer, l) => {
      const now = computed.get(layer.id);
      if (now) return { layer: layer.layer, rho: now.rho, p: now.p, reused: false };
      const row = stored.get(comparisonKey(questions[l] as ComparisonQuestion)) as StoredComparison;
      return { layer: layer.layer, rho: row.value, p: row.pValue, reused: true };
    }),
  };
}

/** A stored comparison as listed for a dataset (for APIs): layer names resolved. */
export interface ListedComparison {
  readonly id: number;
  readonly metric: string;
  readonly layerA: string;
  readonly layerB: string | null;
  readonly value: number;
  readonly p: number | null;
  readonly images: number;
  readonly imagesUsed: number;
  readonly exact: boolean;
  readonly params: Record<string, unknown>;
  /** False when a layer was re-ingested or gained vectors since: the value is of older vectors. */
  readonly current: boolean;
  readonly computedAt: Date;
}

/** Every stored comparison of a dataset, newest first, each marked current or not. */
export async function listDatasetComparisons(store: Store, dataset: string): Promise<ListedComparison[]> {
  const record = await store.getDataset(dataset);
  const byId = new Map(record.layers.map((layer) => [layer.id, { id: layer.id, layer: layer.layer, basisSha256: layer.pcaBasis?.sha256 ?? null, vectorCount: layer.vectorCount }]));
  const rows = await store.withPrisma((db) => listComparisonRows(db, record.id));
  return rows.map((row) => {
    const a = byId.get(row.layerAId) as ComparedLayer;
    const b = row.layerBId === null ? null : (byId.get(row.layerBId) as ComparedLayer);
    const inputs = comparisonInputs({ metric: row.metric as StoredComparisonMetric, layerA: a, layerB: b, params: {} });
    return {
      id: row.id,
      metric: row.metric,
      layerA: a.layer,
      layerB: b?.layer ?? null,
      value: row.value,
      p: row.pValue,
      images: row.images,
      imagesUsed: row.imagesUsed,
      exact: row.exact,
      params: row.params,
      current: inputs === row.inputs,
      computedAt: row.createdAt,
    };
  });
}
