import type { QueryResolvers } from '../../generated/resolvers.js';
import { parseId, visibleJob } from '../helpers.js';

export const run: QueryResolvers['run'] = async (_parent, args, context) => visibleJob(context, await context.loaders.job.load(parseId(args.id, 'id')));
