import type { QueryResolvers } from '../../generated/resolvers.js';
import { parseId } from '../helpers.js';

/** Null when the image does not exist or its dataset is not visible to the caller. */
export const image: QueryResolvers['image'] = async (_parent, args, context) => {
  const row = await context.loaders.image.load(parseId(args.id, 'id'));
  if (!row) return null;
  return (await context.loaders.dataset.load(row.datasetId)) ? row : null;
};
