/**
 * Neighbours of a stored image in two queries, for servers answering many of them (the GraphQL
 * API's nearestNeighbors): one finds the image's layer and checks it has a vector, one searches
 * the layer's HNSW index with the image's own vector as a sub-select (pgvector's "nearest
 * neighbours to a row"; the planner still uses the index) and returns the images with their
 * distances. Store.nearest answers the same question in about a dozen round trips.
 *
 * Same answers as Store.nearest in 'hnsw' mode: k + 1 candidates (the image finds itself),
 * hnsw.ef_search = max(40, 2 x (k + 1)), and an exact search when the index search misses the
 * image itself. When that ef_search is pgvector's default (40, any k up to 19) no SET LOCAL
 * and so no transaction is needed; otherwise the search runs in one with it.
 */
import { NotFoundError, InvalidInputError } from './errors.js';
import type { Store } from './store.js';
import type { ImageRow } from './lookup-repository.js';
import { MAX_EF_SEARCH, defaultEfSearch, type Metric } from './vectors.js';

/** pgvector's default hnsw.ef_search. */
const PGVECTOR_DEFAULT_EF_SEARCH = 40;
const OPERATOR: Readonly<Record<Metric, string>> = { cosine: '<=>', l2: '<->' };

export interface ImageNeighborsQuery {
  /** Database id of the query image. */
  readonly imageId: number;
  readonly layer: string;
  readonly k: number;
  readonly metric: Metric;
}

export interface ImageNeighbors {
  readonly datasetId: number;
  readonly layerReady: boolean;
  readonly usedExactFallback: boolean;
  readonly neighbors: readonly { readonly image: ImageRow; readonly distance: number }[];
}

interface LayerOfImage {
  dataset_id: number;
  layer_id: number | null;
  components: number | null;
  status: string | null;
  has_vector: boolean | null;
}

interface HitRow {
  id: number;
  dataset_id: number;
  index: number;
  source_id: string;
  width: number;
  height: number;
  distance: number;
}

export async function imageNeighbors(store: Store, query: ImageNeighborsQuery): Promise<ImageNeighbors> {
  const { imageId, layer, k, metric } = query;
  if (!Number.isInteger(k) || k < 1 || k >= MAX_EF_SEARCH) throw new InvalidInputError(`k must be an integer in [1, ${MAX_EF_SEARCH - 1}], got ${k}`);
  const op = OPERATOR[metric];
  if (!op) throw new InvalidInputError(`unknown metric "${String(metric)}"; expected cosine or l2`);
  const [info] = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<LayerOfImage[]>(
      `SELECT i."dataset_id", l."id" AS "layer_id", l."components", l."status"::text AS "status",
              EXISTS (SELECT 1 FROM "feature_vector" v WHERE v."dataset_layer_id" = l."id" AND v."image_id" = i."id") AS "has_vector"
         FROM "image" i LEFT JOIN "dataset_layer" l ON l."dataset_id" = i."dataset_id" AND l."layer" = $2::text
        WHERE i."id" = $1::int`,
      imageId,
      layer,
    ),
  );
  if (!info) throw new NotFoundError(`no image with database id ${imageId}`);
  if (info.layer_id === null || info.components === null) throw new NotFoundError(`the dataset of image ${imageId} has no layer "${layer}"`);
  if (!info.has_vector) throw new NotFoundError(`image ${imageId} has no ${layer} vector yet (layer status: ${info.status}); finish its ingest first`);

  // Layer id and dimension go into the SQL as integers (checked above by their source): the
  // partial HNSW index is used only when the query repeats its predicate and expression.
  const layerId = Math.trunc(info.layer_id);
  const dimension = Math.trunc(info.components);
  const self = `(SELECT "vector" FROM "feature_vector" WHERE "dataset_layer_id" = ${layerId} AND "image_id" = $1::int)`;
  const candidates = k + 1;
  const search = (exact: boolean): string => {
    const distance = exact ? `"vector" ${op} ${self}` : `"vector"::vector(${dimension}) ${op} ${self}::vector(${dimension})`;
    return `SELECT i."id", i."dataset_id", i."index", i."source_id", i."width", i."height", s."distance"
              FROM (SELECT "image_id", (${distance}) AS "distance" FROM "feature_vector"
                     WHERE "dataset_layer_id" = ${layerId} ORDER BY ${distance} LIMIT ${candidates}) AS s
              JOIN "image" i ON i."id" = s."image_id"
             ORDER BY s."distance", i."id"`;
  };
  const ef = defaultEfSearch(candidates);
  let hits =
    ef === PGVECTOR_DEFAULT_EF_SEARCH
      ? await store.withPrisma((prisma) => prisma.$queryRawUnsafe<HitRow[]>(search(false), imageId))
      : await store.transaction(async (tx) => {
          await tx.$executeRawUnsafe(`SET LOCAL hnsw.ef_search = ${ef}`);
          return tx.$queryRawUnsafe<HitRow[]>(search(false), imageId);
        });
  // The image is its own nearest neighbour; an index search that missed it was stranded in
  // another part of the graph, and exact search answers instead (as Store.nearest does).
  const stranded = !hits.some((hit) => hit.id === imageId);
  if (stranded) hits = await store.withPrisma((prisma) => prisma.$queryRawUnsafe<HitRow[]>(search(true), imageId));
  const neighbors = hits
    .filter((hit) => hit.id !== imageId)
    .slice(0, k)
    .map((hit) => ({
      image: { id: hit.id, datasetId: hit.dataset_id, index: hit.index, sourceId: hit.source_id, width: hit.width, height: hit.height },
      distance: Number(hit.distance),
    }));
  return { datasetId: info.dataset_id, layerReady: info.status === 'ready', usedExactFallback: stranded, neighbors };
}
