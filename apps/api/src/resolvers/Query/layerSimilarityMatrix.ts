import { jobKey } from '@strata/core/jobs';
import { latestJob } from '@strata/core/store';
import type { QueryResolvers } from '../../generated/resolvers.js';
import { requireDataset, resultState } from '../helpers.js';

export const METRIC_NAMES = { CKA: 'cka', RSA: 'rsa', KNN_OVERLAP: 'knn' } as const;

export const layerSimilarityMatrix: QueryResolvers['layerSimilarityMatrix'] = async (_parent, args, context) => {
  const dataset = await requireDataset(context, args.datasetId);
  const metric = args.metric ?? 'CKA';
  const job = await latestJob(context.services.store, jobKey({ kind: 'layer_matrix', params: { dataset: dataset.name, metric: METRIC_NAMES[metric] } }, dataset.id));
  return { dataset, metric, status: resultState(job, job?.status === 'done'), job };
};
