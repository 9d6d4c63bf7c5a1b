import { listJobs, type JobStatus } from '@strata/core/store';
import type { QueryResolvers } from '../../generated/resolvers.js';
import { checkPage, requireDataset } from '../helpers.js';

export const runs: QueryResolvers['runs'] = async (_parent, args, context) => {
  const { limit } = checkPage(0, args.limit ?? 50);
  const statuses = args.status ? args.status.map((status) => status.toLowerCase() as JobStatus) : undefined;
  if (args.datasetId != null) {
    const dataset = await requireDataset(context, args.datasetId);
    return listJobs(context.services.store, { datasetIds: [dataset.id], limit, ...(statuses ? { statuses } : {}) });
  }
  const owner = context.principal.role === 'admin' ? undefined : context.principal.user;
  return listJobs(context.services.store, { limit, ...(owner !== undefined ? { owner } : {}), ...(statuses ? { statuses } : {}) });
};
