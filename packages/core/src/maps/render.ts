/**
 * Pictures of stored maps: the image mosaic of one map and the thumbnail atlas of a dataset,
 * both drawn from the images the dataset was ingested from (its recorded source path), written
 * under the data folder by default (<data>/maps/<map id>/, <data>/maps/atlas-<dataset id>/) and
 * recorded in the store so that the API can serve them.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { ATLAS_INDEX_FILE, buildAtlas, type AtlasIndex, type AtlasOptions, type AtlasSheet } from '../mosaic/atlas.js';
import { renderMosaic, writeMosaicPng, type MosaicOptions } from '../mosaic/mosaic.js';
import { openImageSource } from '../sources/open.js';
import type { ImageReadError, ImageSource } from '../sources/types.js';
import { ConflictError, NotFoundError } from '../store/errors.js';
import { latestAtlasDetails, recordAtlas, resolveStoredPath, setMapMosaic, storedPath } from '../store/maps-repository.js';
import type { DatasetRecord, Store } from '../store/store.js';
import { getMap } from './compute.js';
import type { MapRecord } from './types.js';

/** Where a map's files go by default. */
export function mapDirectory(store: Store, mapId: number): string {
  return join(store.layout.root, 'maps', String(mapId));
}

/** Where a dataset's atlas goes by default. */
export function atlasDirectory(store: Store, datasetId: number): string {
  return join(store.layout.root, 'maps', `atlas-${datasetId}`);
}

export interface StoredMosaicOptions
  extends Pick<MosaicOptions, 'width' | 'height' | 'tile' | 'grid' | 'maxPixels' | 'productPrecision' | 'workers' | 'onBadImage' | 'onProgress' | 'signal'> {
  /** The images: default the dataset's recorded source (path and HDF5 dataset). A path or an open source replaces it (images moved). */
  readonly source?: string | ImageSource;
  /** PNG to write; default <data>/maps/<map id>/mosaic.png (mosaic-grid.png with `grid`). */
  readonly outPath?: string;
}

export interface StoredMosaicResult {
  /** The map, with `mosaicPath` now this file. */
  readonly map: MapRecord;
  /** Absolute path of the PNG. */
  readonly path: string;
  readonly width: number;
  readonly height: number;
  readonly placed: number;
  readonly failures: readonly ImageReadError[];
  /** Grid mode: its columns and rows. */
  readonly grid?: { readonly cols: number; readonly rows: number };
  readonly elapsedMs: number;
}

/** The dataset's images as ingested; a source that no longer matches the stored ids is refused. */
async function openDatasetSource(dataset: DatasetRecord, given: string | ImageSource | undefined): Promise<{ source: ImageSource; owned: boolean }> {
  if (given !== undefined && typeof given !== 'string') return { source: given, owned: false };
  const path = given ?? dataset.sourcePath;
  try {
    const source = await openImageSource(path, dataset.sourceDataset === null ? {} : { dataset: dataset.sourceDataset });
    return { source, owned: true };
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    throw new NotFoundError(`the images of dataset "${dataset.name}" (${path}) cannot be opened: ${reason}${given === undefined ? '; pass their new location as source' : ''}`);
  }
}

/** Source index of every image of the map, checked against the source's own ids. */
async function sourceIndices(store: Store, map: MapRecord, source: ImageSource): Promise<Int32Array> {
  const images = await store.withPrisma((prisma) =>
    prisma.image.findMany({ where: { datasetId: map.datasetId }, select: { id: true, index: true, sourceId: true } }),
  );
  const byId = new Map(images.map((image) => [image.id, image]));
  const indices = new Int32Array(map.imageIds.length);
  map.imageIds.forEach((imageId, i) => {
    const image = byId.get(imageId);
    if (image === undefined) throw new ConflictError(`map ${map.id} names image ${imageId}, which dataset "${map.dataset}" no longer has`);
    if (image.index >= source.size || source.idOf(image.index) !== image.sourceId) {
      const found = image.index < source.size ? `"${source.idOf(image.index)}"` : `nothing (it has ${source.size} images)`;
      throw new ConflictError(`${source.location} is not the image set of dataset "${map.dataset}": image ${image.index} was "${image.sourceId}" when ingested, now ${found}`);
    }
    indices[i] = image.index;
  });
  return indices;
}

/**
 * Draws a stored map as an image mosaic (the t-SNE recipe pixel for pixel, or a grid), writes
 * it as PNG and records its path with the map.
 */
export async function renderStoredMosaic(store: Store, mapId: number, options: StoredMosaicOptions = {}): Promise<StoredMosaicResult> {
  const map = await getMap(store, mapId);
  if (map === null) throw new NotFoundError(`no map with id ${mapId}`);
  if (map.status !== 'done') throw new ConflictError(`map ${mapId} is ${map.status}${map.error ? ` (${map.error})` : ''}; it has no points to draw`);
  const dataset = await store.getDataset(map.dataset);
  const path = resolve(options.outPath ?? join(mapDirectory(store, map.id), options.grid ? 'mosaic-grid.png' : 'mosaic.png'));
  const { source, owned } = await openDatasetSource(dataset, options.source);
  try {
    const imageIndices = await sourceIndices(store, map, source);
    const n = map.pointCount;
    const coords = new Float32Array(2 * n);
    for (let i = 0; i < n; i++) {
      coords[2 * i] = map.x[i] as number;
      coords[2 * i + 1] = map.y[i] as number;
    }
    const { source: _source, outPath: _outPath, ...mosaicOptions } = options;
    const result = await renderMosaic(source, coords, n, { ...mosaicOptions, imageIndices });
    mkdirSync(dirname(path), { recursive: true });
    // Written next to its place and renamed: a reader never sees half a PNG.
    const partial = `${path}.partial.png`;
    try {
      await writeMosaicPng(result.image, partial);
      renameSync(partial, path);
    } finally {
      rmSync(partial, { force: true });
    }
    const mosaic = {
      width: result.image.width,
      height: result.image.height,
      tile: options.tile ?? 100,
      ...(result.grid === undefined ? {} : { grid: { cols: result.grid.cols, rows: result.grid.rows } }),
      placed: result.placed,
      failures: result.failures.length,
    };
    await store.withPrisma((prisma) => setMapMosaic(prisma, map.id, storedPath(store.layout, path), mosaic));
    const updated = await getMap(store, map.id);
    return {
      map: updated ?? map,
      path,
      width: result.image.width,
      height: result.image.height,
      placed: result.placed,
      failures: result.failures,
      ...(result.grid === undefined ? {} : { grid: { cols: result.grid.cols, rows: result.grid.rows } }),
      elapsedMs: result.elapsedMs,
    };
  } finally {
    if (owned) await source.close();
  }
}

export interface DatasetAtlasOptions extends Omit<AtlasOptions, 'onBadImage'> {
  /** Folder to write; default <data>/maps/atlas-<dataset id>, emptied first. */
  readonly outDir?: string;
  /** The images: default the dataset's recorded source. */
  readonly source?: string | ImageSource;
  readonly onBadImage?: 'skip' | 'stop';
  /**
   * Return the dataset's recorded atlas instead of building it again when that one is in the
   * default folder, covers the dataset's current image count, has the same sizes, format and
   * sheet size, and its index is still on disk. Every map of a dataset shares one atlas, so a
   * second map need not redraw 73,000 thumbnails. Default false.
   */
  readonly reuse?: boolean;
}

export interface DatasetAtlasResult {
  readonly dataset: string;
  /** Absolute folder holding atlas.json and the sheets. */
  readonly atlasDir: string;
  readonly indexFile: string;
  readonly images: number;
  readonly failures: number;
  readonly sheets: readonly AtlasSheet[];
  readonly elapsedMs: number;
  /** True when the recorded atlas was returned instead of a new build. */
  readonly reused: boolean;
}

/**
 * Thumbnail sheets of a dataset's images for the browser map (buildAtlas of the images it was
 * ingested from, up to its recorded image count), recorded so that every map of the dataset
 * reports it as `atlasDir`. Atlas entries are by source index and id, as `image.index` and
 * `image.sourceId` in the store.
 */
export async function buildDatasetAtlas(store: Store, dataset: string, options: DatasetAtlasOptions = {}): Promise<DatasetAtlasResult> {
  const record = await store.getDataset(dataset);
  const outDir = resolve(options.outDir ?? atlasDirectory(store, record.id));
  if (options.reuse && options.outDir === undefined) {
    const recorded = await reusableAtlas(store, record, outDir, options);
    if (recorded) return recorded;
  }
  const { source: opened, owned } = await openDatasetSource(record, options.source);
  try {
    if (opened.size < record.imageCount) {
      throw new ConflictError(`${opened.location} has ${opened.size} images; dataset "${record.name}" was ingested from ${record.imageCount}`);
    }
    const source = opened.size === record.imageCount ? opened : limited(opened, record.imageCount);
    const { source: _source, outDir: _outDir, ...atlasOptions } = options;
    // The default folder is Strata's own: sheets of an earlier, larger build must not linger.
    if (options.outDir === undefined) rmSync(outDir, { recursive: true, force: true });
    const summary = await buildAtlas(source, outDir, atlasOptions);
    await store.withPrisma((prisma) =>
      recordAtlas(prisma, record.id, storedPath(store.layout, outDir), {
        images: summary.images,
        failures: summary.failures,
        sheets: summary.sheets.length,
        sizes: [...(options.sizes ?? [32, 64, 128])],
        format: options.format ?? 'webp',
        sheetSize: options.sheetSize ?? 2048,
      }),
    );
    return { dataset: record.name, atlasDir: outDir, indexFile: summary.indexFile, images: summary.images, failures: summary.failures, sheets: summary.sheets, elapsedMs: summary.elapsedMs, reused: false };
  } finally {
    if (owned) await opened.close();
  }
}

async function reusableAtlas(store: Store, record: DatasetRecord, outDir: string, options: DatasetAtlasOptions): Promise<DatasetAtlasResult | null> {
  const details = await store.withPrisma((prisma) => latestAtlasDetails(prisma, record.id));
  if (details === null || resolveStoredPath(store.layout, details.atlasDir) !== outDir) return null;
  const same =
    Number(details.images) + Number(details.failures) === record.imageCount &&
    JSON.stringify(details.sizes) === JSON.stringify([...(options.sizes ?? [32, 64, 128])]) &&
    details.format === (options.format ?? 'webp') &&
    details.sheetSize === (options.sheetSize ?? 2048);
  const indexFile = join(outDir, ATLAS_INDEX_FILE);
  if (!same || !existsSync(indexFile)) return null;
  const index = JSON.parse(readFileSync(indexFile, 'utf8')) as AtlasIndex;
  return {
    dataset: record.name,
    atlasDir: outDir,
    indexFile,
    images: index.images.length,
    failures: index.failures.length,
    sheets: index.sheets,
    elapsedMs: 0,
    reused: true,
  };
}

/** The first `count` images of a source (closing it is the owner's business). */
function limited(source: ImageSource, count: number): ImageSource {
  return {
    location: source.location,
    size: count,
    idOf: (index) => source.idOf(index),
    readBatch: (start, end) => source.readBatch(start, Math.min(end, count)),
    close: async () => undefined,
  };
}
