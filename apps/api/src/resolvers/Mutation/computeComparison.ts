import { jobKey } from '@strata/core/jobs';
import { latestJob } from '@strata/core/store';
import type { MutationResolvers } from '../../generated/resolvers.js';
import { requireCompute, requireDataset } from '../helpers.js';
import { requireReadyLayer } from './computeMap.js';

export const computeComparison: MutationResolvers['computeComparison'] = async (_parent, args, context) => {
  const dataset = await requireDataset(context, args.datasetId);
  requireCompute(context, dataset, 'computeComparison');
  const layerA = await requireReadyLayer(context, dataset, args.layerA, 'layerA');
  const layerB = await requireReadyLayer(context, dataset, args.layerB, 'layerB');
  const params = { dataset: dataset.name, layerA, layerB };
  if (!args.force) {
    const existing = await latestJob(context.services.store, jobKey({ kind: 'comparison', params }, dataset.id), ['queued', 'running', 'done']);
    if (existing) return existing;
  }
  return context.services.queue.enqueue({ datasetId: dataset.id, owner: context.principal.user, job: { kind: 'comparison', params } });
};
