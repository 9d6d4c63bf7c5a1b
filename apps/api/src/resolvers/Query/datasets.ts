import { allDatasets } from '@strata/core/store';
import type { QueryResolvers } from '../../generated/resolvers.js';
import type { DatasetModel } from '../../models.js';

/** Every dataset the caller can see, by name; the visibility check goes through the loader. */
export const datasets: QueryResolvers['datasets'] = async (_parent, _args, context) => {
  const rows = await allDatasets(context.services.store);
  const visible = await context.loaders.dataset.loadMany(rows.map((row) => row.id));
  return visible.filter((dataset): dataset is DatasetModel => dataset !== null && !(dataset instanceof Error));
};
