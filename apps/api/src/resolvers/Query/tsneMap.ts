import { jobKey } from '@strata/core/jobs';
import { latestJob } from '@strata/core/store';
import type { QueryResolvers } from '../../generated/resolvers.js';
import { checkLayer, requireDataset, resultState } from '../helpers.js';
import { checkMapParams } from '../Mutation/computeMap.js';

export const tsneMap: QueryResolvers['tsneMap'] = async (_parent, args, context) => {
  const dataset = await requireDataset(context, args.datasetId);
  const layer = checkLayer(args.layer).name;
  const { perplexity, seed } = checkMapParams(args.perplexity ?? 30, args.seed ?? 0);
  const params = { dataset: dataset.name, layer, perplexity, seed, mosaic: true, atlas: true };
  const job = await latestJob(context.services.store, jobKey({ kind: 'map', params }, dataset.id));
  const result = job?.status === 'done' ? job.result : null;
  const map = await context.services.maps.find(
    { dataset: dataset.name, layer, perplexity, seed },
    { ...(typeof result?.mapId === 'number' ? { mapId: result.mapId } : {}), atlasDir: typeof result?.atlasDir === 'string' ? result.atlasDir : null },
  );
  return { dataset, layer, perplexity, seed, status: resultState(job, map !== null), job, map };
};
