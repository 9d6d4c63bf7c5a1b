/**
 * Images stored as a uint8 brick inside an HDF5 file, such as the Natural Scenes Dataset's
 * `imgBrick` (N x 425 x 425 x 3).
 *
 * Reading goes through h5wasm's Node build, which is compiled with Emscripten's NODERAWFS: the
 * HDF5 library's POSIX calls (open/pread) go straight to the host file system, so the file is
 * never copied into WebAssembly memory. A batch is read as hyperslabs of at most `maxReadBytes`
 * (or one chunk, if a chunk is larger), so memory stays bounded however large the file is.
 */
import { stat } from 'node:fs/promises';

import h5wasm from 'h5wasm/node';
import type { Dataset, File as H5File, Filter, Metadata } from 'h5wasm/node';

import { DEFAULT_MAX_PIXELS } from '../image/raw-image.js';
import type { RawImage } from '../image/raw-image.js';
import { ImageReadError, type ImageSource, type SourceResult } from './types.js';

export interface Hdf5SourceOptions {
  /** Path of the image dataset inside the file. Default `'imgBrick'` (NSD's stimulus file). */
  readonly dataset?: string;
  /**
   * Most bytes read from the file in one HDF5 call; a larger batch is read in several pieces.
   * It bounds the WebAssembly heap, which never shrinks once grown. Default 32 MiB.
   */
  readonly maxReadBytes?: number;
  /**
   * Refuse a brick whose images have more pixels than this, at open time. Unwritten chunks take
   * no room in an HDF5 file, so a tiny file can declare 30,000 x 30,000 images that would each
   * need gigabytes to read. Default DEFAULT_MAX_PIXELS, the limit image files have.
   */
  readonly maxPixels?: number;
}

/** Why an HDF5 file or dataset cannot be used as an image source; names the file and dataset. */
export class Hdf5SourceError extends Error {
  constructor(
    readonly file: string,
    readonly dataset: string | undefined,
    readonly problem: string,
  ) {
    super(`HDF5 file ${file}${dataset === undefined ? '' : `, dataset '${dataset}'`}: ${problem}`);
    this.name = 'Hdf5SourceError';
  }
}

const DEFAULT_DATASET = 'imgBrick';
const DEFAULT_MAX_READ_BYTES = 32 * 1024 * 1024;

/**
 * Filters built into h5wasm 0.10.3's HDF5 2.0.0 (zlib and libaec are linked in). Each was checked
 * by reading a uint8 brick written by h5py with that filter actually applied to the chunks.
 */
const DECODABLE_FILTERS: ReadonlyMap<number, string> = new Map([
  [1, 'gzip/deflate'],
  [2, 'shuffle'],
  [3, 'fletcher32'],
  [4, 'szip'],
  [5, 'nbit'],
  [6, 'scaleoffset'],
]);

/** Registered third-party filters people meet in practice, for readable refusals. */
const KNOWN_PLUGIN_FILTERS: ReadonlyMap<number, string> = new Map([
  [307, 'bzip2'],
  [32000, 'LZF'],
  [32001, 'Blosc'],
  [32004, 'LZ4'],
  [32008, 'bitshuffle'],
  [32013, 'zfp'],
  [32015, 'Zstandard'],
  [32017, 'SZ'],
  [32026, 'Blosc2'],
]);

/** H5T_class_t values (see h5wasm's hdf5_util_helpers.d.ts). */
const H5T_INTEGER = 0;
const H5T_FLOAT = 1;
const TYPE_CLASS_NAMES = [
  'integer', 'float', 'time', 'string', 'bitfield', 'opaque', 'compound', 'reference', 'enum',
  'variable-length', 'array',
];

type H5Module = Awaited<typeof h5wasm.ready>;

/** Set once `h5wasm.ready` has resolved; every source is opened after that. */
let h5module: H5Module | undefined;
let throwingHandlerDepth = 0;

function h5runtime(): H5Module {
  if (h5module === undefined) throw new Error('h5wasm is not initialised; await h5wasm.ready first');
  return h5module;
}

/**
 * Runs h5wasm calls with HDF5's error stack turned into a thrown Error, so that opening can say
 * what is wrong (`truncated file: eof = ...`). By default h5wasm prints the stack to stderr and
 * carries on: a failed open yields file id -1 and `Dataset.slice` returns whatever was in its
 * uninitialised buffer. The throw unwinds past h5wasm's C++ cleanup, though, leaking the HDF5
 * ids it had open, and an open dataset id keeps the file open after close(). So this wraps only
 * the metadata calls made while opening (which fail only for corrupt files), never data reads.
 * The handler is process-wide, so it is switched on only around our own synchronous calls.
 */
function hdf5<T>(call: () => T): T {
  const module = h5runtime();
  if (throwingHandlerDepth === 0) module.activate_throwing_error_handler();
  throwingHandlerDepth++;
  try {
    return call();
  } finally {
    throwingHandlerDepth--;
    if (throwingHandlerDepth === 0) module.deactivate_throwing_error_handler();
  }
}

/**
 * The most specific message of an HDF5 error stack, e.g. `truncated file: eof = 1000, ...` out of
 * the dozen `#00n: src/H5x.c line n in H5X(): ...` lines. Plugin-path lookups are skipped: they
 * only explain why a missing filter was not found.
 */
function hdf5Reason(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  const messages: string[] = [];
  for (const line of text.split('\n')) {
    const match = /#\d+:.* in (\w+)\(\): (.*)$/.exec(line);
    if (match?.[1] !== undefined && match[2] !== undefined && !match[1].startsWith('H5PL')) {
      messages.push(match[2].replace(/: time = .*$/, '').trim());
    }
  }
  return messages.at(-1) ?? text.trim();
}

function describeType(meta: Metadata): string {
  if (meta.type === H5T_INTEGER) return `${meta.signed ? 'int' : 'uint'}${meta.size * 8}`;
  if (meta.type === H5T_FLOAT) return `float${meta.size * 8}`;
  return `${meta.size}-byte ${TYPE_CLASS_NAMES[meta.type] ?? `class ${meta.type}`}`;
}

function describeShape(shape: readonly number[] | null): string {
  if (shape === null) return 'empty';
  return shape.length === 0 ? 'scalar' : shape.join(' x ');
}

function describeFilter(filter: Filter): string {
  const known = KNOWN_PLUGIN_FILTERS.get(filter.id) ?? DECODABLE_FILTERS.get(filter.id);
  const name = known ?? (filter.name === '' ? 'unknown filter' : `'${filter.name}'`);
  return `${name} (id ${filter.id})`;
}

/** Every dataset in the file with its shape and type, for "did you mean" messages. */
function listDatasets(file: H5File): string[] {
  const found: string[] = [];
  for (const name of file.paths()) {
    const path = name.startsWith('/') ? name : `/${name}`;
    const entity = file.get(path);
    if (entity instanceof h5wasm.Dataset) {
      const meta = entity.metadata;
      found.push(`${path} (${describeShape(meta.shape)} ${describeType(meta)})`);
    }
  }
  return found;
}

interface BrickLayout {
  readonly count: number;
  readonly height: number;
  readonly width: number;
  /** Channels stored in the file: 3 (RGB) or 1 (greyscale, replicated to RGB on read). */
  readonly storedChannels: 1 | 3;
  /** 4 for N x H x W x C, 3 for N x H x W. */
  readonly rank: 3 | 4;
  /** Rows per chunk along the image axis; 0 when the dataset is contiguous. */
  readonly chunkRows: number;
}

/**
 * Accepts N x H x W x 3 (RGB), N x H x W x 1 and N x H x W (greyscale) uint8 bricks. A rank-3
 * dataset whose last axis is 3 or 4 is a single H x W x C image without the N axis, not N
 * greyscale images 3 or 4 pixels wide, so it is refused.
 */
function checkLayout(fail: (problem: string) => never, meta: Metadata, filters: readonly Filter[], maxPixels: number): BrickLayout {
  const expected = 'expected uint8 images as N x H x W x 3 (RGB) or N x H x W (greyscale)';
  if (meta.type !== H5T_INTEGER || meta.size !== 1 || meta.signed || meta.vlen) {
    fail(`element type is ${describeType(meta)}, expected uint8 (8-bit unsigned integer pixels)`);
  }
  const shape = meta.shape;
  if (shape === null || shape.length < 3 || shape.length > 4) {
    fail(`shape is ${describeShape(shape)} (rank ${shape?.length ?? 0}); ${expected}`);
  }
  const [count = 0, height = 0, width = 0, channels = 1] = shape;
  if (shape.length === 3 && (width === 3 || width === 4)) {
    fail(`shape is ${describeShape(shape)}, which looks like one H x W x ${width} image without ` +
      `the leading image axis; ${expected}`);
  }
  if (channels !== 1 && channels !== 3) {
    fail(`shape is ${describeShape(shape)}: ${channels} channels per pixel, expected 3 (RGB) or 1 ` +
      `(greyscale)${channels === 4 ? '; drop the alpha channel before extracting' : ''}`);
  }
  if (height === 0 || width === 0) {
    fail(`shape is ${describeShape(shape)}: images have no pixels; ${expected}`);
  }
  if (height * width > maxPixels) {
    fail(`shape is ${describeShape(shape)}: each image is ${width}x${height} = ${height * width} pixels, over the ` +
      `limit of ${maxPixels} (decompression-bomb guard, as for image files)`);
  }
  const undecodable = filters.filter((filter) => !DECODABLE_FILTERS.has(filter.id));
  if (undecodable.length > 0) {
    const names = undecodable.map(describeFilter).join(', ');
    fail(`compressed with ${names}, which h5wasm cannot decode (it reads ` +
      `${[...DECODABLE_FILTERS.values()].join(', ')}). Rewrite the file without it, e.g. ` +
      `'h5repack -f NONE in.h5 out.h5' or 'h5repack -f GZIP=4 in.h5 out.h5'`);
  }
  return {
    count,
    height,
    width,
    storedChannels: channels === 3 ? 3 : 1,
    rank: shape.length === 3 ? 3 : 4,
    chunkRows: meta.chunks?.[0] ?? 0,
  };
}

/**
 * Opens `dataset` of the HDF5 file at `path` as an image source. Refuses, with an
 * {@link Hdf5SourceError} naming the file, the dataset and the problem, anything that is not a
 * readable uint8 image brick: missing file or dataset, truncated or corrupt file, wrong element
 * type or shape, or a compression filter h5wasm cannot decode.
 */
export async function openHdf5Source(path: string, options: Hdf5SourceOptions = {}): Promise<ImageSource> {
  const datasetName = options.dataset ?? DEFAULT_DATASET;
  const datasetPath = datasetName.startsWith('/') ? datasetName : `/${datasetName}`;
  const maxReadBytes = options.maxReadBytes ?? DEFAULT_MAX_READ_BYTES;
  if (!Number.isFinite(maxReadBytes) || maxReadBytes <= 0) {
    throw new RangeError(`maxReadBytes must be a positive number of bytes, got ${maxReadBytes}`);
  }
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new RangeError(`maxPixels must be a positive integer, got ${String(maxPixels)}`);
  }

  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    throw new Hdf5SourceError(path, undefined, error.code === 'ENOENT' ? 'no such file' : error.message);
  });
  if (!info.isFile()) throw new Hdf5SourceError(path, undefined, 'not a regular file');

  h5module = await h5wasm.ready;
  let file: H5File;
  try {
    file = hdf5(() => new h5wasm.File(path, 'r'));
  } catch (error) {
    throw new Hdf5SourceError(path, undefined, `cannot open as HDF5 (${hdf5Reason(error)}); the ` +
      'file may be truncated (an interrupted download or copy) or not HDF5 at all');
  }

  try {
    const fail = (problem: string): never => {
      throw new Hdf5SourceError(path, datasetPath, problem);
    };
    const entity = hdf5(() => file.get(datasetPath));
    if (!(entity instanceof h5wasm.Dataset)) {
      const datasets = hdf5(() => listDatasets(file));
      const what = entity === null ? 'no such dataset' : 'not a dataset';
      fail(`${what}; ${datasets.length === 0
        ? 'the file holds no datasets'
        : `datasets in the file: ${datasets.join(', ')}`}. Choose one with the dataset option`);
    }
    const dataset = entity as Dataset;
    const layout = hdf5(() => checkLayout(fail, dataset.metadata, dataset.filters, maxPixels));
    return new Hdf5Source(path, datasetPath, file, layout, maxReadBytes);
  } catch (error) {
    hdf5(() => file.close());
    if (error instanceof Hdf5SourceError) throw error;
    throw new Hdf5SourceError(path, datasetPath, `cannot read dataset (${hdf5Reason(error)})`);
  }
}

class Hdf5Source implements ImageSource {
  readonly location: string;
  readonly size: number;
  private closed = false;
  /** Rows per HDF5 read; a multiple of the chunk rows when chunked, so no chunk is split. */
  private readonly rowsPerRead: number;

  constructor(
    path: string,
    private readonly datasetPath: string,
    private readonly file: H5File,
    private readonly layout: BrickLayout,
    maxReadBytes: number,
  ) {
    this.location = `${path}:${datasetPath}`;
    this.size = layout.count;
    const rowBytes = layout.height * layout.width * layout.storedChannels;
    const budgetRows = Math.max(1, Math.floor(maxReadBytes / rowBytes));
    // h5wasm reopens the dataset on every read, which drops HDF5's chunk cache: a read that
    // split a chunk would decompress that chunk again for the next piece.
    const chunk = layout.chunkRows;
    this.rowsPerRead = chunk <= 0 ? budgetRows : chunk * Math.max(1, Math.floor(budgetRows / chunk));
  }

  idOf(index: number): string {
    this.checkIndex(index, 'index', this.size - 1);
    return String(index);
  }

  async readBatch(start: number, end: number): Promise<SourceResult[]> {
    if (this.closed) throw new Error(`${this.location}: readBatch after close()`);
    this.checkIndex(start, 'start', this.size);
    this.checkIndex(end, 'end', this.size);
    if (end < start) throw new RangeError(`readBatch: end (${end}) is before start (${start})`);

    const results: SourceResult[] = [];
    let from = start;
    while (from < end) {
      const to = Math.min(end, (Math.floor(from / this.rowsPerRead) + 1) * this.rowsPerRead);
      results.push(...this.readRows(from, to));
      from = to;
    }
    return results;
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    hdf5(() => this.file.close());
  }

  private checkIndex(value: number, name: string, max: number): void {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new RangeError(`${name} must be an integer in [0, ${max}] for ${this.location}, got ${value}`);
    }
  }

  /** One hyperslab read; if it fails, rows are retried one by one so that one bad chunk costs only its rows. */
  private readRows(from: number, to: number): SourceResult[] {
    try {
      return this.read(from, to).map((image, k) => ({ ok: true, index: from + k, id: String(from + k), image }));
    } catch (error) {
      if (to - from > 1) {
        const results: SourceResult[] = [];
        for (let index = from; index < to; index++) results.push(...this.readRows(index, index + 1));
        return results;
      }
      const id = String(from);
      const reason = error instanceof Error ? error.message : String(error);
      return [{ ok: false, index: from, id, error: new ImageReadError(from, id, reason) }];
    }
  }

  /**
   * Reads rows [from, to) into a WebAssembly buffer and copies each row out once, into an array
   * of its own. (`Dataset.slice` would copy the whole read into JS first, doubling the garbage per
   * batch; and it ignores H5Dread's status.) Each image owns its buffer, so a consumer may keep or
   * transfer one without pinning or detaching the others.
   */
  private read(from: number, to: number): RawImage[] {
    const { height, width, storedChannels, rank } = this.layout;
    const rowBytes = height * width * storedChannels;
    const module = h5runtime();
    const pointer = module._malloc((to - from) * rowBytes);
    if (pointer === 0) throw new Error(`out of WebAssembly memory for ${(to - from) * rowBytes} bytes`);
    try {
      const count = [BigInt(to - from), BigInt(height), BigInt(width), BigInt(storedChannels)].slice(0, rank);
      const offset = [BigInt(from), 0n, 0n, 0n].slice(0, rank);
      const stride = [1n, 1n, 1n, 1n].slice(0, rank);
      // Not under hdf5(): see there. On failure HDF5 prints its error stack to stderr.
      const status = module.get_dataset_data(this.file.file_id, this.datasetPath, count, offset, stride, BigInt(pointer));
      if (status < 0) {
        throw new Error(`HDF5 could not read or decode this image (H5Dread returned ${status}; a corrupt ` +
          "chunk, or a file changed since it was opened); HDF5's error stack is on stderr");
      }
      const images: RawImage[] = [];
      for (let k = 0; k < to - from; k++) {
        // HEAPU8 is re-read each time: growing WebAssembly memory replaces it.
        const row = module.HEAPU8.subarray(pointer + k * rowBytes, pointer + (k + 1) * rowBytes);
        images.push(toRgb(row, width, height, storedChannels));
      }
      return images;
    } finally {
      module._free(pointer);
    }
  }
}

/** Copies one stored row, a view into WebAssembly memory, into an RGB image of its own. */
function toRgb(row: Uint8Array, width: number, height: number, storedChannels: 1 | 3): RawImage {
  if (storedChannels === 3) return { data: row.slice(), width, height, channels: 3 };
  const data = new Uint8Array(width * height * 3);
  for (let pixel = 0, out = 0; pixel < row.length; pixel++, out += 3) {
    const value = row[pixel] ?? 0;
    data[out] = value;
    data[out + 1] = value;
    data[out + 2] = value;
  }
  return { data, width, height, channels: 3 };
}
