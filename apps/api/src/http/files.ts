/**
 * GET /files/...: images, thumbnails, mosaics and atlases, to authorised users only.
 *
 *   /files/images/:imageId              the image (PNG of the HDF5 row; the file itself for folders)
 *   /files/thumbnails/:imageId          128 px JPEG
 *   /files/maps/:mapId/mosaic.png       the map's mosaic
 *   /files/maps/:mapId/atlas/:file      the dataset atlas (atlas.json and its sheets)
 *
 * Credentials: `Authorization: Bearer <token>`, or a signed URL (exp, t, sig; what the GraphQL
 * fields url/thumbnailUrl/mosaicUrl/indexUrl return) for <img> tags. Either way the caller must
 * be able to see the dataset. Responses carry an ETag and `Cache-Control: private`; a matching
 * If-None-Match gets 304.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { extname, join } from 'node:path';
import { canRead, type Principal } from '@strata/core/auth';
import { encodeImageFile, encodeRawImage } from '@strata/core/image';
import { openImageSource, type ImageSource } from '@strata/core/sources';
import { datasetAccess, datasetsByIds, imagesByIds, type DatasetRow, type ImageRow } from '@strata/core/store';
import type { ApiServices } from '../services/index.js';
import { isInside } from '../services/import-roots.js';
import { bearerToken, HttpError } from './respond.js';

const THUMBNAIL_SIZE = 128;
const CONTENT_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.webp': 'image/webp',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
  '.json': 'application/json',
};

interface Body {
  readonly etag: string;
  readonly contentType: string;
  /** In memory, or a file to stream. */
  readonly bytes?: Buffer;
  readonly file?: { readonly path: string; readonly size: number };
}

/** Open HDF5 sources, reused by consecutive requests and closed after a minute unused. */
class SourceCache {
  readonly #entries = new Map<string, { source: Promise<ImageSource>; timer: NodeJS.Timeout }>();

  get(path: string, dataset: string | null): Promise<ImageSource> {
    const key = `${path}\n${dataset ?? ''}`;
    const entry = this.#entries.get(key);
    if (entry) {
      entry.timer.refresh();
      return entry.source;
    }
    const source = openImageSource(path, dataset ? { dataset } : {});
    const timer = setTimeout(() => {
      this.#entries.delete(key);
      void source.then((s) => s.close()).catch(() => undefined);
    }, 60_000);
    timer.unref();
    this.#entries.set(key, { source, timer });
    source.catch(() => this.#entries.delete(key));
    return source;
  }

  async close(): Promise<void> {
    for (const [key, entry] of this.#entries) {
      clearTimeout(entry.timer);
      this.#entries.delete(key);
      await entry.source.then((s) => s.close()).catch(() => undefined);
    }
  }
}

class ThumbnailCache {
  readonly #entries = new Map<string, Buffer>();
  constructor(readonly max = 4000) {}
  get(key: string): Buffer | undefined {
    return this.#entries.get(key);
  }
  set(key: string, value: Buffer): void {
    if (this.#entries.size >= this.max) this.#entries.delete(this.#entries.keys().next().value as string);
    this.#entries.set(key, value);
  }
}

function etagOf(...parts: (string | number)[]): string {
  return `"${createHash('sha256').update(parts.join('\n')).digest('base64url').slice(0, 27)}"`;
}

export class FileRoutes {
  readonly #services: ApiServices;
  readonly #sources = new SourceCache();
  readonly #thumbnails = new ThumbnailCache();

  constructor(services: ApiServices) {
    this.#services = services;
  }

  async close(): Promise<void> {
    await this.#sources.close();
  }

  async handle(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    if (req.method !== 'GET' && req.method !== 'HEAD') throw new HttpError('METHOD_NOT_ALLOWED', `${req.method} is not allowed on /files; use GET`);
    const principal = await this.#authenticate(req, url);
    const parts = url.pathname.split('/').slice(2).map((part) => decodeURIComponent(part));
    let body: Body;
    if (parts[0] === 'images' && parts.length === 2) body = await this.#image(principal, parts[1] as string, false);
    else if (parts[0] === 'thumbnails' && parts.length === 2) body = await this.#image(principal, parts[1] as string, true);
    else if (parts[0] === 'maps' && parts.length >= 3) body = await this.#mapFile(principal, parts[1] as string, parts.slice(2));
    else throw new HttpError('NOT_FOUND', `no file route ${url.pathname}; see docs/api.md (files)`);
    const headers: Record<string, string | number> = {
      etag: body.etag,
      'cache-control': 'private, max-age=3600',
      'content-type': body.contentType,
      'x-content-type-options': 'nosniff',
    };
    if (req.headers['if-none-match']?.split(/\s*,\s*/).includes(body.etag)) {
      res.writeHead(304, headers);
      res.end();
      return;
    }
    headers['content-length'] = body.bytes ? body.bytes.length : (body.file?.size ?? 0);
    res.writeHead(200, headers);
    if (req.method === 'HEAD') {
      res.end();
      return;
    }
    if (body.bytes) {
      res.end(body.bytes);
      return;
    }
    await new Promise<void>((resolve, reject) => {
      const stream = createReadStream((body.file as { path: string }).path);
      stream.on('error', reject);
      res.on('close', resolve);
      stream.pipe(res);
    });
  }

  async #authenticate(req: IncomingMessage, url: URL): Promise<Principal> {
    const token = bearerToken(req);
    if (token) {
      const principal = await this.#services.auth.fromToken(token);
      if (!principal) throw new HttpError('UNAUTHENTICATED', 'the bearer token is unknown or revoked');
      return principal;
    }
    if (url.searchParams.has('sig')) {
      const signed = this.#services.signer.verify(url.pathname, url.searchParams);
      if (!signed) throw new HttpError('UNAUTHENTICATED', 'the signed URL is invalid or expired; ask the API for a fresh one');
      const principal = await this.#services.auth.fromTokenId(signed.tokenId);
      if (!principal) throw new HttpError('UNAUTHENTICATED', 'the signed URL was made for a token that has been revoked');
      return principal;
    }
    throw new HttpError('UNAUTHENTICATED', 'files need an Authorization: Bearer header or a signed URL (the url fields of the GraphQL API)');
  }

  async #readableDataset(principal: Principal, datasetId: number): Promise<DatasetRow> {
    const [[dataset], [access]] = await Promise.all([datasetsByIds(this.#services.store, [datasetId]), datasetAccess(this.#services.store, [datasetId])]);
    if (!dataset || !access || !canRead(principal, access)) throw new HttpError('NOT_FOUND', `no dataset ${datasetId} visible to you`);
    return dataset;
  }

  async #image(principal: Principal, idText: string, thumbnail: boolean): Promise<Body> {
    if (!/^\d{1,10}$/.test(idText)) throw new HttpError('BAD_USER_INPUT', `image id must be an integer, got "${idText}"`);
    const [image] = await imagesByIds(this.#services.store, [Number(idText)]);
    if (!image) throw new HttpError('NOT_FOUND', `no image ${idText}`);
    const dataset = await this.#readableDataset(principal, image.datasetId);
    return dataset.sourceKind === 'hdf5' ? this.#hdf5Image(dataset, image, thumbnail) : this.#folderImage(dataset, image, thumbnail);
  }

  async #hdf5Image(dataset: DatasetRow, image: ImageRow, thumbnail: boolean): Promise<Body> {
    const info = await stat(dataset.sourcePath).catch(() => null);
    if (!info) throw new HttpError('NOT_FOUND', `the source of dataset "${dataset.name}" is no longer on the server`);
    const etag = etagOf(thumbnail ? 'thumbnail' : 'image', dataset.sourcePath, dataset.sourceDataset ?? '', info.size, info.mtimeMs, image.index);
    const cached = thumbnail ? this.#thumbnails.get(etag) : undefined;
    if (cached) return { etag, contentType: 'image/jpeg', bytes: cached };
    const source = await this.#sources.get(dataset.sourcePath, dataset.sourceDataset);
    const [result] = await source.readBatch(image.index, image.index + 1);
    if (!result?.ok) throw new HttpError('NOT_FOUND', `image ${image.id} cannot be read from the source: ${result && !result.ok ? result.error.reason : 'missing'}`);
    if (!thumbnail) return { etag, contentType: 'image/png', bytes: await encodeRawImage(result.image, { format: 'png' }) };
    const bytes = await encodeRawImage(result.image, { format: 'jpeg', fit: THUMBNAIL_SIZE });
    this.#thumbnails.set(etag, bytes);
    return { etag, contentType: 'image/jpeg', bytes };
  }

  async #folderImage(dataset: DatasetRow, image: ImageRow, thumbnail: boolean): Promise<Body> {
    const root = await realpath(dataset.sourcePath).catch(() => null);
    const path = root ? await realpath(join(root, ...image.sourceId.split('/'))).catch(() => null) : null;
    if (!root || !path) throw new HttpError('NOT_FOUND', `image ${image.id} (${image.sourceId}) is no longer on the server`);
    // A link inside the folder may point anywhere; serve only what lies under the folder or an import root.
    if (!isInside(root, path) && !this.#services.importRoots.configured.some((allowed) => isInside(allowed, path))) {
      throw new HttpError('FORBIDDEN', `image ${image.id} is a link to outside its dataset's folder`);
    }
    const info = await stat(path);
    const etag = etagOf(thumbnail ? 'thumbnail' : 'image', path, info.size, info.mtimeMs);
    if (!thumbnail) return { etag, contentType: CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream', file: { path, size: info.size } };
    const cached = this.#thumbnails.get(etag);
    if (cached) return { etag, contentType: 'image/jpeg', bytes: cached };
    const bytes = await encodeImageFile(path, { format: 'jpeg', fit: THUMBNAIL_SIZE, maxPixels: this.#services.env.STRATA_MAX_UPLOAD_PIXELS * 5 });
    this.#thumbnails.set(etag, bytes);
    return { etag, contentType: 'image/jpeg', bytes };
  }

  async #mapFile(principal: Principal, idText: string, rest: readonly string[]): Promise<Body> {
    if (!/^\d{1,10}$/.test(idText)) throw new HttpError('BAD_USER_INPUT', `map id must be an integer, got "${idText}"`);
    const found = await this.#services.maps.byId(Number(idText));
    if (!found) throw new HttpError('NOT_FOUND', `no map ${idText}`);
    await this.#readableDataset(principal, found.datasetId);
    let path: string | null = null;
    if (rest.length === 1 && rest[0] === 'mosaic.png') path = found.map.mosaicPath;
    else if (rest.length === 2 && rest[0] === 'atlas' && /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(rest[1] as string) && found.map.atlasDir) {
      path = join(found.map.atlasDir, rest[1] as string);
    }
    const info = path ? await stat(path).catch(() => null) : null;
    if (!path || !info?.isFile()) throw new HttpError('NOT_FOUND', `map ${idText} has no file ${rest.join('/')}`);
    return {
      etag: etagOf('map', path, info.size, info.mtimeMs),
      contentType: CONTENT_TYPES[extname(path).toLowerCase()] ?? 'application/octet-stream',
      file: { path, size: info.size },
    };
  }
}
