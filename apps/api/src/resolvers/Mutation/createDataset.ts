import { stat } from 'node:fs/promises';
import { openImageSource } from '@strata/core/sources';
import { getUpload, registerDataset } from '@strata/core/store';
import type { MutationResolvers } from '../../generated/resolvers.js';
import { badInput, notFound } from '../../errors.js';
import { ImportPathError } from '../../services/import-roots.js';
import { requireRole } from '../helpers.js';

/**
 * Registers a dataset: finds its source (a path under an import root, or an upload), counts its
 * images, picks the model, and records all of it as the ingest will expect it. Reading an HDF5
 * header or listing a folder is quick; nothing heavy runs here.
 */
export const createDataset: MutationResolvers['createDataset'] = async (_parent, { input }, context) => {
  requireRole(context, 'editor', 'createDataset');
  const { services, principal } = context;
  const { path, uploadId } = input.source;
  const hdf5Dataset = input.source.hdf5Dataset ?? 'imgBrick';
  if ((path == null) === (uploadId == null)) throw badInput('source needs exactly one of path and uploadId', { argument: 'input.source' });

  let real: string;
  if (uploadId != null) {
    const upload = await getUpload(services.store, String(uploadId));
    if (!upload || (upload.owner !== principal.user && principal.role !== 'admin')) throw notFound(`no upload with id "${String(uploadId)}"`);
    if (upload.kind !== 'hdf5') throw badInput(`upload ${upload.id} is an image; a dataset needs an HDF5 file (POST /uploads?kind=hdf5)`, { argument: 'input.source.uploadId' });
    real = upload.path;
  } else {
    try {
      real = await services.importRoots.confine(String(path));
      if ((await stat(real)).isDirectory()) await services.importRoots.checkFolderLinks(real);
    } catch (error) {
      if (error instanceof ImportPathError) throw badInput(error.message, { argument: 'input.source.path' });
      throw error;
    }
  }
  const kind = (await stat(real)).isDirectory() ? 'folder' : 'hdf5';
  let imageCount: number;
  try {
    const source = await openImageSource(real, kind === 'hdf5' ? { dataset: hdf5Dataset } : {});
    imageCount = source.size;
    await source.close();
  } catch (error) {
    throw badInput(error instanceof Error ? error.message : String(error), { argument: 'input.source' });
  }
  let model;
  try {
    model = await services.models.byName(input.model);
  } catch (error) {
    if (error instanceof RangeError) throw badInput(error.message, { argument: 'input.model' });
    throw error;
  }
  const id = await registerDataset(services.store, {
    name: input.name,
    owner: principal.user,
    visibility: input.visibility === 'LAB' ? 'lab' : 'private',
    source: { kind, path: real, ...(kind === 'hdf5' ? { dataset: hdf5Dataset } : {}), imageCount },
    model: { name: model.name, sha256: model.sha256, path: model.path },
  });
  const dataset = await context.loaders.dataset.load(id);
  if (!dataset) throw new Error(`dataset ${id} vanished after it was created`);
  services.log(`${principal.user} created dataset ${id} "${input.name}" (${imageCount} images, ${kind} ${real})`);
  return dataset;
};
