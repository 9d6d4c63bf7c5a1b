import type { ViewerResolvers } from '../../generated/resolvers.js';

export const Viewer: ViewerResolvers = {
  user: (principal) => principal.user,
  role: (principal) => principal.role.toUpperCase() as 'VIEWER' | 'EDITOR' | 'ADMIN',
};
