/**
 * POST /uploads?kind=image|hdf5: a file as the raw request body (not multipart: `curl
 * --data-binary @file`), streamed to <data>/uploads under a random id, size-capped while it
 * arrives. Its id then goes into GraphQL: similarImages(upload: { uploadId }) for an image,
 * createDataset(input: { source: { uploadId } }) for an HDF5 brick (editors).
 *
 * Apollo Server 5 has no multipart uploads; small images can also go inline as base64.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createWriteStream } from 'node:fs';
import { mkdir, rename, rm } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { join } from 'node:path';
import { pipeline } from 'node:stream/promises';
import { Transform } from 'node:stream';
import { hasRole } from '@strata/core/auth';
import { isHdf5File } from '@strata/core/sources';
import { recordUpload } from '@strata/core/store';
import type { ApiServices } from '../services/index.js';
import { bearerToken, HttpError, sendJson } from './respond.js';

export async function handleUpload(services: ApiServices, req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
  if (req.method !== 'POST') throw new HttpError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on /uploads; POST the file as the request body`);
  const token = bearerToken(req);
  const principal = token ? await services.auth.fromToken(token) : null;
  if (!principal) throw new HttpError('UNAUTHENTICATED', 'uploads need an Authorization: Bearer header with a valid token');
  const kind = url.searchParams.get('kind') ?? 'image';
  if (kind !== 'image' && kind !== 'hdf5') throw new HttpError('BAD_USER_INPUT', `kind must be image or hdf5, got "${kind}"`);
  if (kind === 'hdf5' && !hasRole(principal.role, 'editor')) throw new HttpError('FORBIDDEN', `uploading datasets needs the editor role; ${principal.user} has ${principal.role}`);
  const limit = kind === 'image' ? services.env.STRATA_MAX_UPLOAD_BYTES : services.env.STRATA_MAX_DATASET_UPLOAD_BYTES;
  const declared = Number(req.headers['content-length']);
  if (Number.isFinite(declared) && declared > limit) {
    throw new HttpError('PAYLOAD_TOO_LARGE', `the ${kind} is ${declared} bytes; at most ${limit} are accepted (${kind === 'image' ? 'STRATA_MAX_UPLOAD_BYTES' : 'STRATA_MAX_DATASET_UPLOAD_BYTES'})`);
  }
  await mkdir(services.uploadDir, { recursive: true, mode: 0o700 });
  const id = randomUUID();
  const path = join(services.uploadDir, `${id}.${kind === 'image' ? 'img' : 'h5'}`);
  const partial = `${path}.part`;
  const hash = createHash('sha256');
  let bytes = 0;
  const counter = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > limit) {
        callback(new HttpError('PAYLOAD_TOO_LARGE', `the ${kind} is over ${limit} bytes, the most accepted`));
        return;
      }
      hash.update(chunk);
      callback(null, chunk);
    },
  });
  try {
    await pipeline(req, counter, createWriteStream(partial, { mode: 0o600 }));
    if (bytes === 0) throw new HttpError('BAD_USER_INPUT', 'the request body is empty; send the file as the body');
    if (kind === 'hdf5' && !(await isHdf5File(partial))) throw new HttpError('BAD_USER_INPUT', 'the body is not an HDF5 file (no HDF5 signature)');
    await rename(partial, path);
  } catch (error) {
    await rm(partial, { force: true });
    throw error;
  }
  const sha256 = hash.digest('hex');
  await recordUpload(services.store, { id, owner: principal.user, kind, path, bytes, sha256 });
  services.log(`${principal.user} uploaded ${kind} ${id} (${bytes} bytes)`);
  sendJson(res, 201, { id, kind, bytes, sha256 });
}
