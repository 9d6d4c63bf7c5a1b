import { listJobs } from '@strata/core/store';
import type { DatasetResolvers } from '../../generated/resolvers.js';
import { checkPage } from '../helpers.js';
import { loadImagePage } from '../Query/images.js';

export const Dataset: DatasetResolvers = {
  id: (dataset) => String(dataset.id),
  sourceKind: (dataset) => (dataset.sourceKind === 'hdf5' ? 'HDF5' : 'FOLDER'),
  hdf5Dataset: (dataset) => dataset.sourceDataset,
  storedImages: (dataset, _args, context) => context.loaders.storedImages.load(dataset.id),
  owner: (dataset) => dataset.access.owner,
  visibility: (dataset) => (dataset.access.visibility === 'lab' ? 'LAB' : 'PRIVATE'),
  model: (dataset) => ({ name: dataset.model.name, sha256: dataset.model.sha256 }),
  layers: (dataset, _args, context) => context.loaders.layers.load(dataset.id),
  images: (dataset, args, context) => loadImagePage(context, dataset, args.offset ?? 0, args.limit ?? 100),
  runs: (dataset, args, context) => listJobs(context.services.store, { datasetIds: [dataset.id], limit: checkPage(0, args.limit ?? 20).limit }),
};
