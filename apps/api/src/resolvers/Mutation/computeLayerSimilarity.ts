import { jobKey } from '@strata/core/jobs';
import { latestJob } from '@strata/core/store';
import type { MutationResolvers } from '../../generated/resolvers.js';
import { badInput } from '../../errors.js';
import { requireCompute, requireDataset } from '../helpers.js';
import { METRIC_NAMES } from '../Query/layerSimilarityMatrix.js';

export const computeLayerSimilarity: MutationResolvers['computeLayerSimilarity'] = async (_parent, args, context) => {
  const dataset = await requireDataset(context, args.datasetId);
  requireCompute(context, dataset, 'computeLayerSimilarity');
  const ready = (await context.loaders.layers.load(dataset.id)).filter((layer) => layer.status === 'ready');
  if (ready.length < 2) throw badInput(`dataset "${dataset.name}" has ${ready.length} ready layer(s); a matrix needs at least 2`, { argument: 'datasetId' });
  const params = { dataset: dataset.name, metric: METRIC_NAMES[args.metric ?? 'CKA'] };
  if (!args.force) {
    const existing = await latestJob(context.services.store, jobKey({ kind: 'layer_matrix', params }, dataset.id), ['queued', 'running', 'done']);
    if (existing) return existing;
  }
  return context.services.queue.enqueue({ datasetId: dataset.id, owner: context.principal.user, job: { kind: 'layer_matrix', params } });
};
