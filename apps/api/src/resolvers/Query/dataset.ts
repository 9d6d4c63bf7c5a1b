import type { QueryResolvers } from '../../generated/resolvers.js';
import { parseId } from '../helpers.js';

export const dataset: QueryResolvers['dataset'] = (_parent, args, context) => context.loaders.dataset.load(parseId(args.id, 'id'));
