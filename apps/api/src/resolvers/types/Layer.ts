import type { LayerResolvers } from '../../generated/resolvers.js';

export const Layer: LayerResolvers = {
  kind: (layer) => (layer.kind === 'conv' ? 'CONV' : 'POOL'),
  index: (layer) => layer.featuresIndex,
  shape: (layer) => [...layer.shape],
};
