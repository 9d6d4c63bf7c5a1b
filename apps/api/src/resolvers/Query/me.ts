import type { QueryResolvers } from '../../generated/resolvers.js';

export const me: QueryResolvers['me'] = (_parent, _args, context) => context.principal;
