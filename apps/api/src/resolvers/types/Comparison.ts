import type { LayerComparisonResolvers, LayerSimilarityMatrixResolvers } from '../../generated/resolvers.js';

function resultNumber(result: Record<string, unknown> | null | undefined, key: string): number | null {
  const value = result?.[key];
  return typeof value === 'number' ? value : null;
}

export const LayerComparison: LayerComparisonResolvers = {
  run: (model) => model.job,
  cka: (model) => (model.status === 'READY' ? resultNumber(model.job?.result, 'cka') : null),
  rsa: (model) => (model.status === 'READY' ? resultNumber(model.job?.result, 'rsa') : null),
  knnOverlap: (model) => (model.status === 'READY' ? resultNumber(model.job?.result, 'knnOverlap') : null),
};

export const LayerSimilarityMatrix: LayerSimilarityMatrixResolvers = {
  run: (model) => model.job,
  layers: (model) => (model.status === 'READY' && Array.isArray(model.job?.result?.layers) ? (model.job.result.layers as string[]) : null),
  values: (model) => {
    const result = model.job?.result;
    if (model.status !== 'READY' || !Array.isArray(result?.layers) || !Array.isArray(result?.values)) return null;
    const n = (result.layers as unknown[]).length;
    const flat = result.values as number[];
    return Array.from({ length: n }, (_, i) => flat.slice(i * n, (i + 1) * n));
  },
};
