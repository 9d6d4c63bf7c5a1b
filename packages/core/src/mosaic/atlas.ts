/**
 * Texture atlases for the browser map: every image as a thumbnail of each requested size
 * (longest side = the size, Pillow-exact LANCZOS, centred in a square cell with transparent
 * margins), packed row by row into square sheets, plus an index that says where each is.
 *
 * Memory is bounded for any number of images: images are streamed from the source, each size
 * has one sheet being filled (a 2048 x 2048 RGBA sheet is 16 MiB), and one full sheet at a
 * time is encoded and written meanwhile, so encoding overlaps thumbnailing on multi-core
 * machines. The index is kept as typed columns (20 bytes per
 * image and size) and written as JSON at the end.
 *
 * Layout of outDir:
 *   atlas.json               the index (AtlasIndex)
 *   <size>px-<k>.<format>    sheet k of that size; the last one cut to its filled rows
 */
import { closeSync, mkdirSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';

import type { RawImage } from '../image/raw-image.js';
import type { ImageSource } from '../sources/types.js';
import { pasteTile } from './canvas.js';
import { createResizePool } from './resize-pool.js';
import { streamImages } from './stream.js';

export type AtlasFormat = 'webp' | 'png';

export interface AtlasOptions {
  /** Thumbnail sizes (the cell side) in pixels. Default [32, 64, 128]. */
  readonly sizes?: readonly number[];
  /** Side of a square sheet in pixels. Default 2048 (a texture size every WebGL device takes). */
  readonly sheetSize?: number;
  /** Sheet file format. Default 'webp'. */
  readonly format?: AtlasFormat;
  /** WebP quality 1-100, lossy. Default 90. Ignored for PNG and lossless WebP. */
  readonly quality?: number;
  /** Lossless WebP (about 3x larger, pixels exact). Default false. */
  readonly lossless?: boolean;
  /** Images read at a time. Default 16. */
  readonly batchSize?: number;
  /** Worker threads making thumbnails; 0: the calling thread. Default: one per core, at most 8. */
  readonly workers?: number;
  /** 'skip' (default) leaves an unreadable image out of the atlas and lists it; 'stop' throws. */
  readonly onBadImage?: 'skip' | 'stop';
  readonly onProgress?: (progress: AtlasProgress) => void;
  readonly signal?: AbortSignal;
}

export interface AtlasProgress {
  readonly done: number;
  readonly total: number;
  readonly sheetsWritten: number;
}

export interface AtlasSheet {
  /** File name, relative to the atlas folder. */
  readonly file: string;
  /** Thumbnail size (cell side) of this sheet. */
  readonly size: number;
  readonly width: number;
  readonly height: number;
  /** Thumbnails in this sheet. */
  readonly count: number;
}

/** Where one thumbnail is: sheet number (into `sheets`) and the image's rectangle in it. */
export interface AtlasPlacement {
  readonly sheet: number;
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
}

export interface AtlasImage {
  /** Source index and id of the image. */
  readonly index: number;
  readonly id: string;
  /** One placement per entry of `tileSizes`, in that order. */
  readonly tiles: readonly AtlasPlacement[];
}

export interface AtlasIndex {
  readonly format: 'strata-atlas';
  readonly version: 1;
  readonly source: string;
  readonly imageFormat: AtlasFormat;
  readonly sheetSize: number;
  readonly tileSizes: readonly number[];
  readonly sheets: readonly AtlasSheet[];
  /** Images that are in the atlas, in source order. */
  readonly images: readonly AtlasImage[];
  /** Images that could not be read, with why. */
  readonly failures: readonly { readonly index: number; readonly id: string; readonly reason: string }[];
}

export interface AtlasSummary {
  readonly indexFile: string;
  readonly images: number;
  readonly failures: number;
  readonly sheets: readonly AtlasSheet[];
  readonly elapsedMs: number;
}

export const ATLAS_INDEX_FILE = 'atlas.json';
const DEFAULT_SIZES: readonly number[] = Object.freeze([32, 64, 128]);
/** libwebp's largest picture side. */
const WEBP_MAX_SIDE = 16383;

/**
 * Thumbnail size of a width x height image in a square cell of `size`: longest side = size,
 * the other rounded to nearest (at least 1).
 */
export function thumbnailSize(width: number, height: number, size: number): { width: number; height: number } {
  if (width >= height) return { width: size, height: Math.max(1, Math.round((height * size) / width)) };
  return { width: Math.max(1, Math.round((width * size) / height)), height: size };
}

/** One size's current sheet and where its thumbnails went. */
interface SizeState {
  readonly size: number;
  readonly perRow: number;
  readonly capacity: number;
  sheet: RawImage | undefined;
  /** A buffer free for the next sheet. */
  spare: Uint8Array | undefined;
  sheetNumber: number;
  used: number;
  files: number;
  /** sheet, x, y, w, h per source image (sheet -1: not in the atlas). */
  readonly placements: Int32Array;
}

export async function buildAtlas(source: ImageSource, outDir: string, options: AtlasOptions = {}): Promise<AtlasSummary> {
  const started = performance.now();
  const sizes = [...(options.sizes ?? DEFAULT_SIZES)];
  const sheetSize = options.sheetSize ?? 2048;
  const format = options.format ?? 'webp';
  const quality = options.quality ?? 90;
  const onBadImage = options.onBadImage ?? 'skip';
  if (format !== 'webp' && format !== 'png') throw new RangeError(`format must be 'webp' or 'png', got '${String(format)}'`);
  if (!Number.isInteger(sheetSize) || sheetSize < 1 || (format === 'webp' && sheetSize > WEBP_MAX_SIDE)) {
    throw new RangeError(`sheetSize must be an integer in [1, ${format === 'webp' ? WEBP_MAX_SIDE : 65535}], got ${String(sheetSize)}`);
  }
  if (sizes.length === 0) throw new RangeError('sizes must name at least one thumbnail size');
  for (const size of sizes) {
    if (!Number.isInteger(size) || size < 1 || size > sheetSize) {
      throw new RangeError(`thumbnail sizes must be integers in [1, sheetSize = ${sheetSize}], got ${String(size)}`);
    }
  }
  if (new Set(sizes).size !== sizes.length) throw new RangeError(`thumbnail sizes must be distinct, got [${sizes.join(', ')}]`);
  if (!Number.isInteger(quality) || quality < 1 || quality > 100) throw new RangeError(`quality must be an integer in [1, 100], got ${String(quality)}`);
  if (onBadImage !== 'skip' && onBadImage !== 'stop') throw new RangeError(`onBadImage must be 'skip' or 'stop', got '${String(onBadImage)}'`);
  mkdirSync(outDir, { recursive: true });

  const total = source.size;
  // Numbered in the order sheets are started; a slot is filled when its sheet is written.
  const sheets: (AtlasSheet | undefined)[] = [];
  let sheetsWritten = 0;
  const states: SizeState[] = sizes.map((size) => {
    const perRow = Math.floor(sheetSize / size);
    return { size, perRow, capacity: perRow * perRow, sheet: undefined, spare: undefined, sheetNumber: -1, used: 0, files: 0, placements: new Int32Array(5 * total).fill(-1) };
  });
  const failures: { index: number; id: string; reason: string }[] = [];
  let inFlight: { promise: Promise<void>; state: SizeState; buffer: Uint8Array } | undefined;

  /**
   * Starts encoding the size's full (or last) sheet and returns without waiting for it, so
   * that libvips encodes on its own threads while thumbnails go on. One encode runs at a time
   * (an encode holds several times the sheet in working memory): the one in flight, which has
   * usually had many thumbnails' time to finish, is awaited first.
   */
  const flush = async (state: SizeState): Promise<void> => {
    const { sheet } = state;
    if (sheet === undefined || state.used === 0) return;
    await settle();
    // The last sheet of a size keeps only its filled rows; full sheets stay square.
    const rowsUsed = Math.ceil(state.used / state.perRow);
    const height = state.used === state.capacity ? sheet.height : rowsUsed * state.size;
    const file = `${state.size}px-${String(state.files).padStart(3, '0')}.${format}`;
    const pixels = Buffer.from(sheet.data.buffer, sheet.data.byteOffset, sheet.width * height * 4);
    const image = sharp(pixels, { raw: { width: sheet.width, height, channels: 4 } });
    const entry: AtlasSheet = { file, size: state.size, width: sheet.width, height, count: state.used };
    const number = state.sheetNumber;
    const encoding = (format === 'png'
      ? image.png({ compressionLevel: 6 })
      : image.webp(options.lossless ? { lossless: true } : { quality, alphaQuality: 100 })
    ).toFile(join(outDir, file));
    const promise = encoding.then(() => {
      sheets[number] = entry;
      sheetsWritten++;
    });
    // Awaited by the next flush or at the end; until then a failure must not count as unhandled.
    promise.catch(() => undefined);
    inFlight = { promise, state, buffer: sheet.data };
    state.files++;
    state.sheet = undefined;
    state.used = 0;
  };

  /** Waits for the encode in flight, if any, and hands its buffer back to its size. */
  const settle = async (): Promise<void> => {
    if (inFlight === undefined) return;
    const { promise, state, buffer } = inFlight;
    await promise;
    inFlight = undefined;
    state.spare = buffer;
  };

  /**
   * A cleared buffer for the size's next sheet. Each size owns at most two, one being filled
   * and one being encoded or spare, allocated once and reused: a fresh 16 MiB array per sheet leaves
   * glibc holding ever more freed blocks (it raises its mmap threshold after the first free),
   * which showed as RSS creeping up sheet after sheet.
   */
  const takeBuffer = (state: SizeState): Uint8Array => {
    const buffer = state.spare ?? new Uint8Array(sheetSize * sheetSize * 4);
    state.spare = undefined;
    buffer.fill(0);
    return buffer;
  };

  let done = 0;
  const pool = createResizePool({ filter: 'lanczos', ...(options.workers === undefined ? {} : { workers: options.workers }) });
  // Thumbnails made ahead on the workers, placed strictly in source order.
  const ahead: { readonly index: number; readonly thumbnails: Promise<RawImage[]> }[] = [];
  const placeNext = async (): Promise<void> => {
    const next = ahead.shift();
    if (next === undefined) return;
    const thumbnails = await next.thumbnails;
    for (const [s, state] of states.entries()) {
      const thumbnail = thumbnails[s];
      if (thumbnail === undefined) throw new Error(`internal: no ${state.size} px thumbnail for image ${next.index}`);
      if (state.sheet === undefined) {
        state.sheet = { data: takeBuffer(state), width: sheetSize, height: sheetSize, channels: 4 };
        state.sheetNumber = sheets.length;
        sheets.push(undefined);
      }
      const cell = state.used++;
      const x = (cell % state.perRow) * state.size + ((state.size - thumbnail.width) >> 1);
      const y = Math.floor(cell / state.perRow) * state.size + ((state.size - thumbnail.height) >> 1);
      pasteTile(state.sheet, thumbnail, x, y);
      state.placements.set([state.sheetNumber, x, y, thumbnail.width, thumbnail.height], 5 * next.index);
      if (state.used === state.capacity) await flush(state);
    }
    done++;
    options.onProgress?.({ done, total, sheetsWritten });
  };
  try {
    for await (const result of streamImages(source, {
      batchSize: options.batchSize ?? 16,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })) {
      if (!result.ok) {
        if (onBadImage === 'stop') throw result.error;
        failures.push({ index: result.index, id: result.id, reason: result.error.reason });
        done++;
        continue;
      }
      const { image, index } = result;
      const targets = states.map((state) => {
        const size = thumbnailSize(image.width, image.height, state.size);
        return [size.width, size.height] as const;
      });
      const thumbnails = pool.resize(image, targets);
      // Awaited in order by placeNext; a failure meanwhile must not count as unhandled.
      thumbnails.catch(() => undefined);
      ahead.push({ index, thumbnails });
      while (ahead.length > 2 * pool.workers) await placeNext();
    }
    while (ahead.length > 0) await placeNext();
  } finally {
    await pool.close();
  }
  for (const state of states) await flush(state);
  await settle();
  options.onProgress?.({ done, total, sheetsWritten });
  // A sheet is only started for an image that goes into it, so every slot is written by now.
  const written = sheets.filter((sheet): sheet is AtlasSheet => sheet !== undefined);
  if (written.length !== sheets.length) throw new Error(`internal: ${sheets.length - written.length} atlas sheets were started but not written`);

  const indexFile = join(outDir, ATLAS_INDEX_FILE);
  writeIndex(indexFile, source, { format, sheetSize, sizes, sheets: written, states, failures });
  const images = total - failures.length;
  return { indexFile, images, failures: failures.length, sheets: written, elapsedMs: performance.now() - started };
}

/** Writes atlas.json a chunk at a time, so that 73,000 images never become one huge string. */
function writeIndex(
  path: string,
  source: ImageSource,
  parts: { format: AtlasFormat; sheetSize: number; sizes: number[]; sheets: AtlasSheet[]; states: SizeState[]; failures: AtlasIndex['failures'] },
): void {
  const fd = openSync(path, 'w');
  try {
    let buffered = '';
    const write = (text: string): void => {
      buffered += text;
      if (buffered.length > 1 << 20) {
        writeSync(fd, buffered);
        buffered = '';
      }
    };
    const head = {
      format: 'strata-atlas',
      version: 1,
      source: source.location,
      imageFormat: parts.format,
      sheetSize: parts.sheetSize,
      tileSizes: parts.sizes,
      sheets: parts.sheets,
    };
    write(JSON.stringify(head).slice(0, -1));
    write(',\n"images":[');
    let first = true;
    const [firstState] = parts.states;
    for (let index = 0; index < source.size; index++) {
      if (firstState === undefined || (firstState.placements[5 * index] ?? -1) < 0) continue;
      const tiles = parts.states.map((state) => {
        const p = state.placements.subarray(5 * index, 5 * index + 5);
        return { sheet: p[0], x: p[1], y: p[2], w: p[3], h: p[4] };
      });
      write(`${first ? '\n' : ',\n'}${JSON.stringify({ index, id: source.idOf(index), tiles })}`);
      first = false;
    }
    write(`\n],\n"failures":${JSON.stringify(parts.failures)}}\n`);
    writeSync(fd, buffered);
  } finally {
    closeSync(fd);
  }
}
