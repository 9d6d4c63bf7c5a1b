/**
 * A folder of image files, searched recursively, as an ImageSource.
 *
 * Order: images are sorted by id (the path relative to the folder, with '/' separators) using
 * plain UTF-16 code-unit comparison, i.e. JavaScript's default sort and Python's `sorted()` on
 * the same strings. It ignores locale and case rules on purpose, so that the row order of the
 * output is the same on every machine and easy to reproduce from Python.
 */
import type { Dirent } from 'node:fs';
import { readdir, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';

import { decodeImage, ImageDecodeError } from '../image/decode.js';
import { ImageReadError, type ImageSource, type SourceResult } from './types.js';

export interface FolderSourceOptions {
  /** Images with more pixels than this are reported as unreadable. Default: decodeImage's. */
  readonly maxPixels?: number;
  /** Images decoded at the same time within a batch. Default 2. */
  readonly concurrency?: number;
}

/** File extensions taken as images, compared case-insensitively. */
export const IMAGE_EXTENSIONS: readonly string[] = Object.freeze(['jpg', 'jpeg', 'png', 'webp', 'tif', 'tiff']);

const EXTENSION_PATTERN = new RegExp(`\\.(${IMAGE_EXTENSIONS.join('|')})$`, 'i');

function compareCodeUnits(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** Relative ids of the image files under `dir`, recursively; symlinks are followed to files only. */
async function listImages(dir: string, prefix: string, out: string[]): Promise<void> {
  const entries: Dirent[] = await readdir(dir, { withFileTypes: true });
  for (const entry of entries) {
    const id = prefix === '' ? entry.name : `${prefix}/${entry.name}`;
    if (entry.isDirectory()) {
      await listImages(join(dir, entry.name), id, out);
    } else if (EXTENSION_PATTERN.test(entry.name)) {
      // A symlink counts when it points at a file; directory symlinks are not followed, so a
      // link cycle cannot make the listing endless.
      const isFile = entry.isFile() || (entry.isSymbolicLink() && (await stat(join(dir, entry.name)).catch(() => null))?.isFile() === true);
      if (isFile) out.push(id);
    }
  }
}

class FolderSource implements ImageSource {
  private closed = false;

  constructor(
    readonly location: string,
    private readonly root: string,
    private readonly ids: readonly string[],
    private readonly maxPixels: number | undefined,
    private readonly concurrency: number,
  ) {}

  get size(): number {
    return this.ids.length;
  }

  idOf(index: number): string {
    const id = this.ids[index];
    if (id === undefined || !Number.isInteger(index)) {
      throw new RangeError(`index must be an integer in [0, ${this.ids.length - 1}] for ${this.location}, got ${index}`);
    }
    return id;
  }

  async readBatch(start: number, end: number): Promise<SourceResult[]> {
    if (this.closed) throw new Error(`${this.location}: readBatch after close()`);
    for (const [name, value] of [['start', start], ['end', end]] as const) {
      if (!Number.isInteger(value) || value < 0 || value > this.ids.length) {
        throw new RangeError(`${name} must be an integer in [0, ${this.ids.length}] for ${this.location}, got ${value}`);
      }
    }
    if (end < start) throw new RangeError(`readBatch: end (${end}) is before start (${start})`);

    const results = new Array<SourceResult>(end - start);
    let next = start;
    // A few workers pull indices in turn: decoding overlaps file reads without flooding
    // libvips' thread pool, and results keep their positions.
    const worker = async (): Promise<void> => {
      while (next < end) {
        const index = next++;
        results[index - start] = await this.readOne(index);
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, end - start) }, worker));
    return results;
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private async readOne(index: number): Promise<SourceResult> {
    const id = this.idOf(index);
    const path = join(this.root, ...id.split('/'));
    try {
      const image = await decodeImage(path, this.maxPixels === undefined ? {} : { maxPixels: this.maxPixels });
      return { ok: true, index, id, image };
    } catch (error) {
      const reason =
        error instanceof ImageDecodeError ? error.message : `${path}: ${error instanceof Error ? error.message : String(error)}`;
      return { ok: false, index, id, error: new ImageReadError(index, id, reason) };
    }
  }
}

/**
 * Opens `dir` as an image source: every .jpg/.jpeg/.png/.webp/.tif/.tiff file below it, in
 * code-unit order of the relative path. Throws when the folder is missing or holds no image.
 * Files are only listed here; they are decoded (and found unreadable, if so) by readBatch.
 */
export async function openFolderSource(dir: string, options: FolderSourceOptions = {}): Promise<ImageSource> {
  const concurrency = options.concurrency ?? 2;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`concurrency must be a positive integer, got ${String(concurrency)}`);
  }
  const root = resolve(dir);
  const info = await stat(root).catch((error: NodeJS.ErrnoException) => {
    throw new Error(`image folder ${dir}: ${error.code === 'ENOENT' ? 'no such folder' : error.message}`);
  });
  if (!info.isDirectory()) throw new Error(`image folder ${dir}: not a folder`);

  const ids: string[] = [];
  await listImages(root, '', ids);
  if (ids.length === 0) {
    throw new Error(
      `image folder ${dir}: no images found (looked recursively for files ending in ${IMAGE_EXTENSIONS.map((e) => `.${e}`).join(', ')}, any case)`,
    );
  }
  ids.sort(compareCodeUnits);
  return new FolderSource(dir, root, ids, options.maxPixels, concurrency);
}
