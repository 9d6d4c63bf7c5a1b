/**
 * The feature store: one object over either database (embedded PGlite or a Postgres server),
 * with typed methods for what Strata reads and writes. Vectors go through ./vectors.ts; the
 * rest through the generated Prisma client.
 */
import { isAbsolute, join } from 'node:path';
import type { DataDirLayout } from './data-dir.js';
import { dataDirLayout, defaultDataDir } from './data-dir.js';
import { openPgliteBackend, openPostgresBackend, type Backend, type BackendKind } from './backend.js';
import { InvalidInputError, MigrationError, NotFoundError } from './errors.js';
import type { LayerStatus, RunStatus, SourceKind } from './generated/enums.js';
import type { Prisma, PrismaClient } from './generated/client.js';
import { applyMigrations, migrationStatus, type MigrationReport, type MigrationStatus } from './migrate.js';
import { SerialQueue } from './serial-queue.js';
import {
  MAX_EF_SEARCH,
  METRICS,
  countVectors,
  createHnswIndex,
  insertVectors,
  listHnswIndexes,
  readVectors,
  searchVectors,
  type HnswOptions,
  type Metric,
  type VectorSpace,
} from './vectors.js';

export type TransactionClient = Prisma.TransactionClient;
type LayerRow = Prisma.DatasetLayerGetPayload<{ include: { pcaBasis: true } }>;

export interface OpenStoreOptions {
  /** Data folder (embedded database, PCA bases, scratch). Default: defaultDataDir(). */
  readonly dataDir?: string;
  /** postgres:// URL of a server with pgvector; when absent, the embedded PGlite database is used. */
  readonly databaseUrl?: string;
  /**
   * 'apply' (default): apply pending migrations on open. 'verify': refuse a database with pending
   * migrations (for servers whose schema is managed elsewhere). 'skip': neither (for `db migrate` itself).
   */
  readonly migrate?: 'apply' | 'verify' | 'skip';
  /** Default: prisma/migrations of this repository. */
  readonly migrationsDir?: string;
}

/** An image, named by its database id, its source id (HDF5 row number or relative path) or its source index. */
export type ImageRef = { readonly id: number } | { readonly sourceId: string } | { readonly index: number };

export interface ImageRecord {
  readonly id: number;
  readonly index: number;
  readonly sourceId: string;
  readonly width: number;
  readonly height: number;
}

export interface PcaBasisRecord {
  readonly id: number;
  /** Absolute path of the basis file. */
  readonly path: string;
  readonly sha256: string;
  readonly components: number;
  readonly dimension: number;
  readonly sampleCount: number;
  readonly seed: number;
  readonly whiten: boolean;
  readonly center: boolean;
  readonly explainedVarianceRatio: readonly number[];
}

export interface LayerRecord {
  readonly id: number;
  readonly dataset: string;
  readonly datasetId: number;
  readonly layer: string;
  /** Dimension of the stored vectors. */
  readonly components: number;
  readonly status: LayerStatus;
  readonly vectorCount: number;
  readonly indexes: readonly Metric[];
  readonly pcaBasis: PcaBasisRecord | null;
}

export interface DatasetRecord {
  readonly id: number;
  readonly name: string;
  readonly sourceKind: SourceKind;
  readonly sourcePath: string;
  readonly sourceDataset: string | null;
  readonly imageCount: number;
  /** Images stored (those the model could read). */
  readonly storedImages: number;
  readonly model: { readonly id: number; readonly name: string; readonly sha256: string };
  readonly createdAt: Date;
  readonly layers: readonly LayerRecord[];
}

export interface RunRecord {
  readonly id: number;
  readonly kind: string;
  readonly status: RunStatus;
  readonly phase: string | null;
  readonly done: number;
  readonly total: number;
  readonly rate: number | null;
  readonly errors: unknown;
  readonly params: unknown;
  readonly startedAt: Date;
  readonly finishedAt: Date | null;
}

export interface NeighborQuery {
  readonly dataset: string;
  readonly layer: string;
  /** Neighbours of this stored image (which is left out of the answer)... */
  readonly image?: ImageRef;
  /** ...or of this vector (the layer's dimension). */
  readonly vector?: Float32Array;
  /** Default 10. */
  readonly k?: number;
  /** Default 'cosine'. */
  readonly metric?: Metric;
  /** Default 'hnsw'; see SearchOptions in ./vectors.ts. */
  readonly mode?: 'hnsw' | 'rerank' | 'exact';
  /** hnsw.ef_search; default max(40, 2 x candidates). */
  readonly efSearch?: number;
  /**
   * Default true: when an index search for a stored image does not find that image itself (at
   * distance 0), the search was stranded in another region of the HNSW graph (it happens to a
   * few queries in a thousand on well-separated clusters) and the query is answered by exact
   * search instead.
   */
  readonly exactFallback?: boolean;
}

export interface Neighbor {
  readonly image: ImageRecord;
  readonly distance: number;
}

export interface NeighborResult {
  readonly dataset: string;
  readonly layer: string;
  readonly metric: Metric;
  readonly mode: 'hnsw' | 'rerank' | 'exact';
  /** The query image, when the query named one. */
  readonly query: ImageRecord | null;
  /** False when the layer's ingest has not finished (its vectors are incomplete). */
  readonly layerReady: boolean;
  /** Whether an HNSW index for the metric exists; without one 'hnsw' falls back to a scan. */
  readonly indexed: boolean;
  /** True when the index search missed the query image and exact search answered (see exactFallback). */
  readonly usedExactFallback: boolean;
  readonly neighbors: readonly Neighbor[];
}

/** Interactive transactions may run long: a batch of vectors, an index build. */
const TRANSACTION_OPTIONS = { maxWait: 10 * 60_000, timeout: 60 * 60_000 } as const;

const imageSelect = { id: true, index: true, sourceId: true, width: true, height: true } as const;

export class Store {
  readonly #backend: Backend;
  readonly #queue = new SerialQueue();
  readonly #migrationsDir: string | undefined;
  #closed = false;

  /** Use openStore(). */
  constructor(
    backend: Backend,
    readonly layout: DataDirLayout,
    migrationsDir?: string,
  ) {
    this.#backend = backend;
    this.#migrationsDir = migrationsDir;
  }

  get backend(): BackendKind {
    return this.#backend.kind;
  }

  /** The embedded database's folder or the server's URL (without password). */
  get location(): string {
    return this.#backend.location;
  }

  /** Runs `task` alone on PGlite (one connection), directly on a server (a pool). */
  #exclusive<T>(task: () => Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new Error('the store is closed'));
    return this.#backend.exclusive ? this.#queue.run(task) : task();
  }

  /** Applies pending migrations from prisma/migrations; idempotent. */
  migrate(): Promise<MigrationReport> {
    return this.#exclusive(() => applyMigrations(this.#backend, this.#migrationsDir));
  }

  migrationStatus(): Promise<MigrationStatus> {
    return this.#exclusive(() => migrationStatus(this.#backend, this.#migrationsDir));
  }

  /**
   * Prisma for what has no method here yet (maps, comparisons), queued like every other call.
   * Do not hold on to the client after `task` returns.
   */
  withPrisma<T>(task: (prisma: PrismaClient) => Promise<T>): Promise<T> {
    return this.#exclusive(() => task(this.#backend.prisma));
  }

  /** One interactive transaction; pass `tx` to ./vectors.ts functions to commit vectors with other rows. */
  transaction<T>(task: (tx: TransactionClient) => Promise<T>): Promise<T> {
    return this.#exclusive(() => this.#backend.prisma.$transaction(task, TRANSACTION_OPTIONS));
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    // Let queued work finish, then close.
    await this.#exclusive(async () => undefined);
    this.#closed = true;
    await this.#backend.close();
  }

  // ---- datasets, layers, images ----

  listDatasets(): Promise<DatasetRecord[]> {
    return this.#exclusive(async () => {
      const rows = await this.#backend.prisma.dataset.findMany({ orderBy: { name: 'asc' }, select: { name: true } });
      const out: DatasetRecord[] = [];
      for (const row of rows) out.push(await this.#dataset(this.#backend.prisma, row.name));
      return out;
    });
  }

  getDataset(name: string): Promise<DatasetRecord> {
    return this.#exclusive(() => this.#dataset(this.#backend.prisma, name));
  }

  getLayer(dataset: string, layer: string): Promise<LayerRecord> {
    return this.#exclusive(async () => this.#layerRecord(this.#backend.prisma, await this.#layerRow(this.#backend.prisma, dataset, layer)));
  }

  getImage(dataset: string, ref: ImageRef): Promise<ImageRecord> {
    return this.#exclusive(async () => {
      const row = await this.#datasetRow(this.#backend.prisma, dataset);
      return this.#image(this.#backend.prisma, row.id, row.name, ref);
    });
  }

  /** Images of a dataset in source order, a page at a time. */
  listImages(dataset: string, page: { offset?: number; limit?: number } = {}): Promise<ImageRecord[]> {
    return this.#exclusive(async () => {
      const row = await this.#datasetRow(this.#backend.prisma, dataset);
      return this.#backend.prisma.image.findMany({
        where: { datasetId: row.id },
        orderBy: { index: 'asc' },
        skip: page.offset ?? 0,
        take: page.limit ?? 100,
        select: imageSelect,
      });
    });
  }

  runs(dataset?: string): Promise<RunRecord[]> {
    return this.#exclusive(async () => {
      const where = dataset === undefined ? {} : { datasetId: (await this.#datasetRow(this.#backend.prisma, dataset)).id };
      return this.#backend.prisma.run.findMany({ where, orderBy: { id: 'desc' } });
    });
  }

  // ---- vectors ----

  /** Stored vectors of a layer (of the given images, or all), row i for imageIds[i]. */
  readVectors(dataset: string, layer: string, images?: readonly ImageRef[]): Promise<{ imageIds: Int32Array; vectors: Float32Array; dimension: number }> {
    return this.#exclusive(async () => {
      const prisma = this.#backend.prisma;
      const row = await this.#layerRow(prisma, dataset, layer);
      const ids = images === undefined ? undefined : await Promise.all(images.map(async (ref) => (await this.#image(prisma, row.datasetId, dataset, ref)).id));
      const result = await readVectors(prisma, space(row), ids);
      return { ...result, dimension: row.components };
    });
  }

  /**
   * Stores vectors of existing images of a layer (imageIds are database ids). Checks the
   * dimension and the ids first; nothing is written when any is wrong. Returns how many were new.
   */
  insertVectors(dataset: string, layer: string, imageIds: ArrayLike<number>, vectors: Float32Array): Promise<number> {
    return this.#exclusive(async () => {
      const prisma = this.#backend.prisma;
      const row = await this.#layerRow(prisma, dataset, layer);
      const wanted = [...new Set(Array.from(imageIds))];
      const found = await prisma.image.count({ where: { datasetId: row.datasetId, id: { in: wanted } } });
      if (found !== wanted.length) throw new NotFoundError(`${wanted.length - found} of the ${wanted.length} image ids are not images of dataset "${dataset}"`);
      return prisma.$transaction((tx) => insertVectors(tx, space(row), imageIds, vectors), TRANSACTION_OPTIONS);
    });
  }

  /** Builds the layer's missing HNSW indexes (default: cosine and L2). Returns those it built. */
  buildIndexes(dataset: string, layer: string, metrics: readonly Metric[] = METRICS, options: HnswOptions = {}): Promise<Metric[]> {
    return this.#exclusive(async () => {
      const prisma = this.#backend.prisma;
      const row = await this.#layerRow(prisma, dataset, layer);
      const built: Metric[] = [];
      for (const metric of metrics) {
        // One transaction per index: a finished one survives an interruption of the next.
        if (await prisma.$transaction((tx) => createHnswIndex(tx, space(row), metric, options), TRANSACTION_OPTIONS)) built.push(metric);
      }
      return built;
    });
  }

  /** Nearest neighbours of a stored image or of a vector within one dataset layer. */
  async nearest(query: NeighborQuery): Promise<NeighborResult> {
    const k = query.k ?? 10;
    const metric = query.metric ?? 'cosine';
    const mode = query.mode ?? 'hnsw';
    if (!Number.isInteger(k) || k < 1 || k >= MAX_EF_SEARCH) throw new InvalidInputError(`k must be an integer in [1, ${MAX_EF_SEARCH - 1}], got ${k}`);
    if (!METRICS.includes(metric)) throw new InvalidInputError(`unknown metric "${String(metric)}"; expected one of ${METRICS.join(', ')}`);
    if ((query.image === undefined) === (query.vector === undefined)) {
      throw new InvalidInputError('a neighbour query needs exactly one of image and vector');
    }
    return this.#exclusive(async () => {
      const prisma = this.#backend.prisma;
      const row = await this.#layerRow(prisma, query.dataset, query.layer);
      const layerSpace = space(row);
      let queryImage: ImageRecord | null = null;
      let vector = query.vector;
      if (query.image !== undefined) {
        queryImage = await this.#image(prisma, row.datasetId, query.dataset, query.image);
        const stored = await readVectors(prisma, layerSpace, [queryImage.id]);
        if (stored.imageIds.length === 0) {
          throw new NotFoundError(`image ${queryImage.sourceId} of dataset "${query.dataset}" has no ${query.layer} vector yet (layer status: ${row.status}); finish its ingest first`);
        }
        vector = stored.vectors;
      }
      const indexes = await listHnswIndexes(prisma, layerSpace);
      // One more than asked when the query image is in the layer: it is its own nearest neighbour.
      const extra = queryImage ? 1 : 0;
      let hits = await prisma.$transaction(
        (tx) => searchVectors(tx, layerSpace, vector as Float32Array, { k: k + extra, metric, mode, efSearch: query.efSearch }),
        TRANSACTION_OPTIONS,
      );
      const stranded = queryImage !== null && mode !== 'exact' && (query.exactFallback ?? true) && !hits.some((hit) => hit.imageId === queryImage?.id);
      if (stranded) hits = await searchVectors(prisma, layerSpace, vector as Float32Array, { k: k + extra, metric, mode: 'exact' });
      const kept = hits.filter((hit) => hit.imageId !== queryImage?.id).slice(0, k);
      const images = await prisma.image.findMany({ where: { id: { in: kept.map((hit) => hit.imageId) } }, select: imageSelect });
      const byId = new Map(images.map((image) => [image.id, image]));
      return {
        dataset: query.dataset,
        layer: query.layer,
        metric,
        mode,
        query: queryImage,
        layerReady: row.status === 'ready',
        indexed: indexes.includes(metric),
        usedExactFallback: stranded,
        neighbors: kept.map((hit) => ({ image: byId.get(hit.imageId) as ImageRecord, distance: hit.distance })),
      };
    });
  }

  // ---- helpers (run inside #exclusive) ----

  async #datasetRow(prisma: PrismaClient | TransactionClient, name: string) {
    const row = await prisma.dataset.findUnique({ where: { name }, include: { model: true } });
    if (row) return row;
    const names = (await prisma.dataset.findMany({ select: { name: true }, orderBy: { name: 'asc' } })).map((d) => d.name);
    throw new NotFoundError(
      names.length === 0
        ? `unknown dataset "${name}": the store has no datasets yet (create one with \`strata ingest\`)`
        : `unknown dataset "${name}"; the store has ${names.map((n) => `"${n}"`).join(', ')}`,
    );
  }

  async #layerRow(prisma: PrismaClient | TransactionClient, dataset: string, layer: string): Promise<LayerRow> {
    const datasetRow = await this.#datasetRow(prisma, dataset);
    const row = await prisma.datasetLayer.findUnique({
      where: { datasetId_layer: { datasetId: datasetRow.id, layer } },
      include: { pcaBasis: true },
    });
    if (row) return row;
    const layers = (await prisma.datasetLayer.findMany({ where: { datasetId: datasetRow.id }, select: { layer: true } })).map((l) => l.layer);
    throw new NotFoundError(
      `dataset "${dataset}" has no layer "${layer}"; it has ${layers.length === 0 ? 'none yet' : layers.join(', ')}`,
    );
  }

  async #image(prisma: PrismaClient | TransactionClient, datasetId: number, dataset: string, ref: ImageRef): Promise<ImageRecord> {
    let row: ImageRecord | null;
    let described: string;
    if ('id' in ref) {
      row = await prisma.image.findFirst({ where: { id: ref.id, datasetId }, select: imageSelect });
      described = `database id ${ref.id}`;
    } else if ('sourceId' in ref) {
      row = await prisma.image.findUnique({ where: { datasetId_sourceId: { datasetId, sourceId: ref.sourceId } }, select: imageSelect });
      described = `id "${ref.sourceId}"`;
    } else if ('index' in ref) {
      row = await prisma.image.findUnique({ where: { datasetId_index: { datasetId, index: ref.index } }, select: imageSelect });
      described = `index ${ref.index}`;
    } else {
      throw new InvalidInputError(`an image reference needs id, sourceId or index; got ${JSON.stringify(ref)}`);
    }
    if (row) return row;
    const count = await prisma.image.count({ where: { datasetId } });
    const sample = await prisma.image.findMany({ where: { datasetId }, orderBy: { index: 'asc' }, take: 3, select: { sourceId: true } });
    throw new NotFoundError(
      `dataset "${dataset}" has no image with ${described}; it has ${count} images` +
        (sample.length > 0 ? ` (ids like ${sample.map((s) => `"${s.sourceId}"`).join(', ')})` : ''),
    );
  }

  async #layerRecord(
    prisma: PrismaClient | TransactionClient,
    row: LayerRow,
    datasetName?: string,
  ): Promise<LayerRecord> {
    const layerSpace = space(row);
    const basis = row.pcaBasis;
    return {
      id: row.id,
      dataset: datasetName ?? (await prisma.dataset.findUniqueOrThrow({ where: { id: row.datasetId } })).name,
      datasetId: row.datasetId,
      layer: row.layer,
      components: row.components,
      status: row.status,
      vectorCount: await countVectors(prisma, layerSpace),
      indexes: await listHnswIndexes(prisma, layerSpace),
      pcaBasis: basis
        ? {
            id: basis.id,
            path: resolvePath(this.layout, basis.path),
            sha256: basis.sha256,
            components: basis.components,
            dimension: basis.dimension,
            sampleCount: basis.sampleCount,
            seed: basis.seed,
            whiten: basis.whiten,
            center: basis.center,
            explainedVarianceRatio: basis.explainedVarianceRatio,
          }
        : null,
    };
  }

  async #dataset(prisma: PrismaClient | TransactionClient, name: string): Promise<DatasetRecord> {
    const row = await this.#datasetRow(prisma, name);
    const layers = await prisma.datasetLayer.findMany({ where: { datasetId: row.id }, include: { pcaBasis: true }, orderBy: { id: 'asc' } });
    const records: LayerRecord[] = [];
    for (const layer of layers) records.push(await this.#layerRecord(prisma, layer, row.name));
    return {
      id: row.id,
      name: row.name,
      sourceKind: row.sourceKind,
      sourcePath: row.sourcePath,
      sourceDataset: row.sourceDataset,
      imageCount: row.imageCount,
      storedImages: await prisma.image.count({ where: { datasetId: row.id } }),
      model: { id: row.model.id, name: row.model.name, sha256: row.model.sha256 },
      createdAt: row.createdAt,
      layers: records,
    };
  }
}

function space(row: { id: number; components: number }): VectorSpace {
  return { id: row.id, dimension: row.components };
}

function resolvePath(layout: DataDirLayout, path: string): string {
  return isAbsolute(path) ? path : join(layout.root, path);
}

/**
 * Opens the store: a Postgres server when `databaseUrl` is given, else the embedded database
 * in the data folder (created on first use). Migrations are applied unless told otherwise.
 */
export async function openStore(options: OpenStoreOptions = {}): Promise<Store> {
  const layout = dataDirLayout(options.dataDir ?? defaultDataDir());
  const backend = options.databaseUrl ? await openPostgresBackend(options.databaseUrl) : await openPgliteBackend(layout.pglite);
  const store = new Store(backend, layout, options.migrationsDir);
  try {
    const mode = options.migrate ?? 'apply';
    if (mode === 'apply') {
      await store.migrate();
    } else if (mode === 'verify') {
      const status = await store.migrationStatus();
      if (status.pending.length > 0) {
        throw new MigrationError(`the database at ${store.location} lacks migrations ${status.pending.join(', ')}; run \`strata db migrate\``);
      }
    }
    return store;
  } catch (error) {
    await store.close();
    throw error;
  }
}
