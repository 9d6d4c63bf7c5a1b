import { setDatasetVisibility as saveVisibility } from '@strata/core/store';
import type { MutationResolvers } from '../../generated/resolvers.js';
import { requireDataset, requireModify } from '../helpers.js';

export const setDatasetVisibility: MutationResolvers['setDatasetVisibility'] = async (_parent, args, context) => {
  const dataset = await requireDataset(context, args.id);
  requireModify(context, dataset, 'setDatasetVisibility');
  const visibility = args.visibility === 'LAB' ? 'lab' : 'private';
  await saveVisibility(context.services.store, dataset.id, visibility);
  return { ...dataset, access: { ...dataset.access, visibility } };
};
