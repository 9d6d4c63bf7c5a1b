import { imagePage } from '@strata/core/store';
import type { ApiContext } from '../../context.js';
import type { QueryResolvers } from '../../generated/resolvers.js';
import type { DatasetModel, ImagePageModel } from '../../models.js';
import { checkPage, requireDataset } from '../helpers.js';

/** A page of a dataset's images, shared by Query.images and Dataset.images. */
export async function loadImagePage(context: ApiContext, dataset: DatasetModel, offset: number, limit: number): Promise<ImagePageModel> {
  const page = checkPage(offset, limit);
  const items = await imagePage(context.services.store, dataset.id, page.offset, page.limit);
  for (const item of items) context.loaders.image.prime(item.id, item);
  return { datasetId: dataset.id, ...page, items };
}

export const images: QueryResolvers['images'] = async (_parent, args, context) =>
  loadImagePage(context, await requireDataset(context, args.datasetId), args.offset ?? 0, args.limit ?? 100);
