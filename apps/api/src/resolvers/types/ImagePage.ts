import type { ImagePageResolvers } from '../../generated/resolvers.js';

export const ImagePage: ImagePageResolvers = {
  total: (page, _args, context) => context.loaders.storedImages.load(page.datasetId),
  items: (page) => [...page.items],
};
