import { jobKey } from '@strata/core/jobs';
import { latestJob } from '@strata/core/store';
import type { QueryResolvers } from '../../generated/resolvers.js';
import { checkLayer, requireDataset, resultState } from '../helpers.js';

export const compareLayers: QueryResolvers['compareLayers'] = async (_parent, args, context) => {
  const dataset = await requireDataset(context, args.datasetId);
  const layerA = checkLayer(args.layerA, 'layerA').name;
  const layerB = checkLayer(args.layerB, 'layerB').name;
  const job = await latestJob(context.services.store, jobKey({ kind: 'comparison', params: { dataset: dataset.name, layerA, layerB } }, dataset.id));
  return { dataset, layerA, layerB, status: resultState(job, job?.status === 'done'), job };
};
