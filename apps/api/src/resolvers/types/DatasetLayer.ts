import { getLayer } from '@strata/core';
import type { DatasetLayerResolvers } from '../../generated/resolvers.js';
import { metricEnum } from '../helpers.js';

export const DatasetLayer: DatasetLayerResolvers = {
  name: (layer) => layer.layer,
  layer: (layer) => getLayer(layer.layer),
  status: (layer) => layer.status.toUpperCase() as 'SAMPLING' | 'INGESTING' | 'INDEXING' | 'READY' | 'FAILED',
  vectorCount: (layer, _args, context) => context.loaders.vectorCount.load(layer.id),
  indexes: async (layer, _args, context) => (await context.loaders.indexes.load(layer)).map(metricEnum),
  explainedVariance: (layer) => layer.explainedVariance,
};
