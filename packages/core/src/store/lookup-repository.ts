/**
 * Batched lookups by database id, for servers that answer many small questions at once (the
 * GraphQL API's DataLoaders): one query per kind of row and batch, results in the order asked
 * with null where nothing matched.
 */
import type { LayerStatus, SourceKind } from './generated/enums.js';
import type { Store } from './store.js';
import { METRICS, hnswIndexName, type Metric } from './vectors.js';

export interface DatasetRow {
  readonly id: number;
  readonly name: string;
  readonly sourceKind: SourceKind;
  readonly sourcePath: string;
  readonly sourceDataset: string | null;
  readonly imageCount: number;
  readonly createdAt: Date;
  readonly model: { readonly id: number; readonly name: string; readonly sha256: string };
}

export interface ImageRow {
  readonly id: number;
  readonly datasetId: number;
  readonly index: number;
  readonly sourceId: string;
  readonly width: number;
  readonly height: number;
}

export interface LayerRow {
  readonly id: number;
  readonly datasetId: number;
  readonly layer: string;
  readonly components: number;
  readonly status: LayerStatus;
  readonly updatedAt: Date;
  /** Sum of the kept components' explained variance ratios; null before the PCA fit. */
  readonly explainedVariance: number | null;
  /** The PCA basis file, relative to the data folder; null before the fit. */
  readonly pcaBasisPath: string | null;
  readonly pcaBasisSha256: string | null;
}

function ordered<T extends { id: number }>(ids: readonly number[], rows: readonly T[]): (T | null)[] {
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}

const datasetSelect = {
  id: true,
  name: true,
  sourceKind: true,
  sourcePath: true,
  sourceDataset: true,
  imageCount: true,
  createdAt: true,
  model: { select: { id: true, name: true, sha256: true } },
} as const;

export async function datasetsByIds(store: Store, ids: readonly number[]): Promise<(DatasetRow | null)[]> {
  if (ids.length === 0) return [];
  const rows = await store.withPrisma((prisma) => prisma.dataset.findMany({ where: { id: { in: [...ids] } }, select: datasetSelect }));
  return ordered(ids, rows);
}

export async function datasetByName(store: Store, name: string): Promise<DatasetRow | null> {
  return store.withPrisma((prisma) => prisma.dataset.findUnique({ where: { name }, select: datasetSelect }));
}

/** Every dataset, by name. */
export async function allDatasets(store: Store): Promise<DatasetRow[]> {
  return store.withPrisma((prisma) => prisma.dataset.findMany({ orderBy: { name: 'asc' }, select: datasetSelect }));
}

const imageSelect = { id: true, datasetId: true, index: true, sourceId: true, width: true, height: true } as const;

export async function imagesByIds(store: Store, ids: readonly number[]): Promise<(ImageRow | null)[]> {
  if (ids.length === 0) return [];
  const rows = await store.withPrisma((prisma) => prisma.image.findMany({ where: { id: { in: [...ids] } }, select: imageSelect }));
  return ordered(ids, rows);
}

/** A page of a dataset's images in source order. */
export async function imagePage(store: Store, datasetId: number, offset: number, limit: number): Promise<ImageRow[]> {
  return store.withPrisma((prisma) =>
    prisma.image.findMany({ where: { datasetId }, orderBy: { index: 'asc' }, skip: offset, take: limit, select: imageSelect }),
  );
}

export async function imageBySourceId(store: Store, datasetId: number, sourceId: string): Promise<ImageRow | null> {
  return store.withPrisma((prisma) => prisma.image.findUnique({ where: { datasetId_sourceId: { datasetId, sourceId } }, select: imageSelect }));
}

/** Images stored per dataset (those the model could read). */
export async function storedImageCounts(store: Store, datasetIds: readonly number[]): Promise<number[]> {
  if (datasetIds.length === 0) return [];
  const rows = await store.withPrisma((prisma) =>
    prisma.image.groupBy({ by: ['datasetId'], where: { datasetId: { in: [...datasetIds] } }, _count: { _all: true } }),
  );
  const byId = new Map(rows.map((row) => [row.datasetId, row._count._all]));
  return datasetIds.map((id) => byId.get(id) ?? 0);
}

/** The layers of each dataset, in the order they were added. */
export async function layersByDatasetIds(store: Store, datasetIds: readonly number[]): Promise<LayerRow[][]> {
  if (datasetIds.length === 0) return [];
  const rows = await store.withPrisma((prisma) =>
    prisma.datasetLayer.findMany({
      where: { datasetId: { in: [...datasetIds] } },
      orderBy: { id: 'asc' },
      include: { pcaBasis: { select: { path: true, sha256: true, explainedVarianceRatio: true } } },
    }),
  );
  const groups = new Map<number, LayerRow[]>(datasetIds.map((id) => [id, []]));
  for (const row of rows) {
    groups.get(row.datasetId)?.push({
      id: row.id,
      datasetId: row.datasetId,
      layer: row.layer,
      components: row.components,
      status: row.status,
      updatedAt: row.updatedAt,
      explainedVariance: row.pcaBasis ? row.pcaBasis.explainedVarianceRatio.reduce((a, b) => a + b, 0) : null,
      pcaBasisPath: row.pcaBasis?.path ?? null,
      pcaBasisSha256: row.pcaBasis?.sha256 ?? null,
    });
  }
  return datasetIds.map((id) => groups.get(id) ?? []);
}

/** Stored vectors per dataset layer (by dataset layer id). */
export async function vectorCounts(store: Store, layerIds: readonly number[]): Promise<number[]> {
  if (layerIds.length === 0) return [];
  const rows = await store.withPrisma((prisma) =>
    prisma.featureVector.groupBy({ by: ['datasetLayerId'], where: { datasetLayerId: { in: [...layerIds] } }, _count: { _all: true } }),
  );
  const byId = new Map(rows.map((row) => [row.datasetLayerId, row._count._all]));
  return layerIds.map((id) => byId.get(id) ?? 0);
}

/** The HNSW indexes built for each dataset layer. */
export async function hnswIndexesOf(store: Store, layers: readonly { id: number; components: number }[]): Promise<Metric[][]> {
  if (layers.length === 0) return [];
  const names = layers.flatMap((layer) => METRICS.map((metric) => hnswIndexName({ id: layer.id, dimension: layer.components }, metric)));
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<{ indexname: string }[]>(
      `SELECT "indexname" FROM pg_indexes WHERE "tablename" = 'feature_vector' AND "indexname" = ANY($1::text[])`,
      `{${names.join(',')}}`,
    ),
  );
  const present = new Set(rows.map((row) => row.indexname));
  return layers.map((layer) => METRICS.filter((metric) => present.has(hnswIndexName({ id: layer.id, dimension: layer.components }, metric))));
}
