import type { ImageResolvers } from '../../generated/resolvers.js';
import { notFound } from '../../errors.js';
import { fileUrl } from '../helpers.js';

export const Image: ImageResolvers = {
  id: (image) => String(image.id),
  dataset: async (image, _args, context) => {
    const dataset = await context.loaders.dataset.load(image.datasetId);
    if (!dataset) throw notFound(`dataset ${image.datasetId} of image ${image.id} is not visible to you`);
    return dataset;
  },
  url: (image, _args, context) => fileUrl(context, `/files/images/${image.id}`),
  thumbnailUrl: (image, _args, context) => fileUrl(context, `/files/thumbnails/${image.id}`),
};
