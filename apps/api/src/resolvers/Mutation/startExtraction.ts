import { parseLayerList } from '@strata/core';
import { listJobs, MAX_INDEXED_DIMENSION } from '@strata/core/store';
import type { MutationResolvers } from '../../generated/resolvers.js';
import { apiError, badInput, conflict } from '../../errors.js';
import { requireDataset, requireModify } from '../helpers.js';

function checkInteger(value: number, name: string, min: number, max: number): number {
  if (!Number.isInteger(value) || value < min || value > max) throw badInput(`${name} must be an integer from ${min} to ${max}, got ${value}`, { argument: name });
  return value;
}

export const startExtraction: MutationResolvers['startExtraction'] = async (_parent, args, context) => {
  const { services } = context;
  const dataset = await requireDataset(context, args.datasetId);
  requireModify(context, dataset, 'startExtraction');
  let layers;
  try {
    layers = parseLayerList(args.layers);
  } catch (error) {
    throw badInput((error as Error).message, { argument: 'layers' });
  }
  const components = checkInteger(args.pcaComponents ?? 256, 'pcaComponents', 1, MAX_INDEXED_DIMENSION);
  const sampleSize = checkInteger(args.sampleSize ?? 5000, 'sampleSize', 2, 1_000_000);
  const seed = checkInteger(args.seed ?? 0, 'seed', 0, 2 ** 31 - 1);
  const batchSize = checkInteger(args.batchSize ?? 8, 'batchSize', 1, 256);
  const active = await listJobs(services.store, { datasetIds: [dataset.id], kinds: ['extraction'], statuses: ['queued', 'running'], limit: 1 });
  if (active[0]) throw conflict(`extraction run ${active[0].id} of dataset "${dataset.name}" is ${active[0].status}; wait for it or cancel it first`);
  const model = await services.models.bySha256(dataset.model.sha256, dataset.modelPath);
  if (!model) {
    throw apiError('NOT_IMPLEMENTED', `this server has no file of model ${dataset.model.name} (sha256 ${dataset.model.sha256.slice(0, 12)}…) that dataset "${dataset.name}" was built with; add it to STRATA_MODELS`);
  }
  return services.queue.enqueue({
    datasetId: dataset.id,
    owner: context.principal.user,
    job: {
      kind: 'extraction',
      params: {
        dataset: dataset.name,
        layers: layers.map((layer) => layer.name),
        components,
        sampleSize,
        seed,
        batchSize,
        modelPath: model.path,
        source: { kind: dataset.sourceKind, path: dataset.sourcePath, ...(dataset.sourceDataset ? { hdf5Dataset: dataset.sourceDataset } : {}) },
      },
    },
  });
};
