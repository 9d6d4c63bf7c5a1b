import { readFile } from 'node:fs/promises';
import { ImageDecodeError } from '@strata/core/image';
import { getUpload } from '@strata/core/store';
import type { QueryResolvers } from '../../generated/resolvers.js';
import { apiError, badInput, notFound } from '../../errors.js';
import { checkK, checkLayer, metricOf, requireDataset } from '../helpers.js';

/** Base64 text of at most `max` decoded bytes, decoded; strict alphabet, so typos are errors. */
function decodeBase64(text: string, max: number): Uint8Array {
  const clean = text.replace(/^data:[^;,]+;base64,/, '').replace(/\s+/g, '');
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(clean) || clean.length % 4 === 1) throw badInput('upload.base64 is not valid base64', { argument: 'upload' });
  const bytes = Math.floor((clean.length * 3) / 4) - (clean.endsWith('==') ? 2 : clean.endsWith('=') ? 1 : 0);
  if (bytes > max) {
    throw apiError('PAYLOAD_TOO_LARGE', `upload is ${bytes} bytes; at most ${max} are accepted inline (STRATA_MAX_UPLOAD_BYTES)`, { max });
  }
  if (bytes === 0) throw badInput('upload.base64 is empty', { argument: 'upload' });
  return Buffer.from(clean, 'base64');
}

export const similarImages: QueryResolvers['similarImages'] = async (_parent, args, context) => {
  const { services } = context;
  const k = checkK(args.k ?? 10);
  const layer = checkLayer(args.layer);
  const dataset = await requireDataset(context, args.datasetId);
  const { base64, uploadId } = args.upload;
  if ((base64 == null) === (uploadId == null)) throw badInput('upload needs exactly one of base64 and uploadId', { argument: 'upload' });
  let bytes: Uint8Array;
  if (base64 != null) {
    bytes = decodeBase64(base64, services.env.STRATA_MAX_UPLOAD_BYTES);
  } else {
    const upload = await getUpload(services.store, String(uploadId));
    if (!upload || (upload.owner !== context.principal.user && context.principal.role !== 'admin')) throw notFound(`no upload with id "${String(uploadId)}"`);
    if (upload.kind !== 'image') throw badInput(`upload ${upload.id} is an HDF5 file, not an image`, { argument: 'upload' });
    bytes = await readFile(upload.path);
  }
  const row = (await context.loaders.layers.load(dataset.id)).find((candidate) => candidate.layer === layer.name);
  if (!row) throw notFound(`dataset "${dataset.name}" has no layer ${layer.name}; start an extraction of it first`);
  if (row.status !== 'ready' || !row.pcaBasisPath || !row.pcaBasisSha256) {
    throw badInput(`layer ${layer.name} of dataset "${dataset.name}" is not ready (status ${row.status})`, { argument: 'layer' });
  }
  const model = await services.models.bySha256(dataset.model.sha256, dataset.modelPath);
  if (!model) {
    throw apiError('NOT_IMPLEMENTED', `this server has no file of model ${dataset.model.name} (sha256 ${dataset.model.sha256.slice(0, 12)}…) that dataset "${dataset.name}" was built with; add it to STRATA_MODELS`);
  }
  const result = await services.similar
    .search({
      dataset: dataset.name,
      layer: layer.name,
      modelPath: model.path,
      basisPath: row.pcaBasisPath,
      basisSha256: row.pcaBasisSha256,
      bytes,
      k,
      metric: metricOf(args.metric ?? 'COSINE'),
    })
    .catch((error: unknown) => {
      // The decoder names an in-memory buffer; the caller knows the image as their upload.
      if (!(error instanceof ImageDecodeError)) throw error;
      const what = base64 != null ? `upload.base64 (${bytes.byteLength} bytes)` : `upload ${String(uploadId)}`;
      const limit = /over the limit of/.test(error.reason) ? '; the limit is STRATA_MAX_UPLOAD_PIXELS' : '';
      throw badInput(`${what}: ${error.reason}${limit}`, { argument: 'upload' });
    });
  return result.neighbors.map((neighbor) => {
    const image = { ...neighbor.image, datasetId: dataset.id };
    context.loaders.image.prime(image.id, image);
    return { image, distance: neighbor.distance };
  });
};
