import { imageNeighbors } from '@strata/core/store';
import type { QueryResolvers } from '../../generated/resolvers.js';
import { notFound } from '../../errors.js';
import { checkK, checkLayer, metricOf, parseId } from '../helpers.js';

const MODES = { HNSW: 'hnsw', RERANK: 'rerank', EXACT: 'exact' } as const;

/**
 * The default (HNSW) search takes the two-query path of imageNeighbors; RERANK and EXACT, for
 * evaluation, go through Store.nearest. Both give the store's answers (test/api.test.ts).
 */
export const nearestNeighbors: QueryResolvers['nearestNeighbors'] = async (_parent, args, context) => {
  const k = checkK(args.k ?? 10);
  const layer = checkLayer(args.layer);
  const imageId = parseId(args.imageId, 'imageId');
  const metric = metricOf(args.metric ?? 'COSINE');
  const mode = MODES[args.mode ?? 'HNSW'];
  // Visibility first, so that nothing about someone else's private images shows in errors.
  const image = await context.loaders.image.load(imageId);
  const dataset = image ? await context.loaders.dataset.load(image.datasetId) : null;
  if (!image || !dataset) throw notFound(`no image with id ${imageId} (or its dataset is private to someone else)`);
  const neighbors =
    mode === 'hnsw'
      ? (await imageNeighbors(context.services.store, { imageId, layer: layer.name, k, metric })).neighbors
      : (await context.services.store.nearest({ dataset: dataset.name, layer: layer.name, image: { id: imageId }, k, metric, mode })).neighbors.map((neighbor) => ({
          image: { ...neighbor.image, datasetId: dataset.id },
          distance: neighbor.distance,
        }));
  for (const neighbor of neighbors) context.loaders.image.prime(neighbor.image.id, neighbor.image);
  return neighbors.map((neighbor) => ({ image: neighbor.image, distance: neighbor.distance }));
};
