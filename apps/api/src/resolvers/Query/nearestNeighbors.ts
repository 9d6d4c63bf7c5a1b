import type { QueryResolvers } from '../../generated/resolvers.js';
import { notFound } from '../../errors.js';
import { checkK, checkLayer, metricOf, parseId } from '../helpers.js';

const MODES = { HNSW: 'hnsw', RERANK: 'rerank', EXACT: 'exact' } as const;

export const nearestNeighbors: QueryResolvers['nearestNeighbors'] = async (_parent, args, context) => {
  const k = checkK(args.k ?? 10);
  const layer = checkLayer(args.layer);
  const imageId = parseId(args.imageId, 'imageId');
  const image = await context.loaders.image.load(imageId);
  const dataset = image ? await context.loaders.dataset.load(image.datasetId) : null;
  if (!image || !dataset) throw notFound(`no image with id ${imageId} (or its dataset is private to someone else)`);
  const result = await context.services.store.nearest({
    dataset: dataset.name,
    layer: layer.name,
    image: { id: image.id },
    k,
    metric: metricOf(args.metric ?? 'COSINE'),
    mode: MODES[args.mode ?? 'HNSW'],
  });
  return result.neighbors.map((neighbor) => {
    const row = { ...neighbor.image, datasetId: dataset.id };
    context.loaders.image.prime(row.id, row);
    return { image: row, distance: neighbor.distance };
  });
};
