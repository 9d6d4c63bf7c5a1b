/**
 * Turns a path given on the command line into an image source: a folder of image files or an
 * HDF5 file, recognised by its signature rather than its extension.
 */
import { open, stat } from 'node:fs/promises';

import { openFolderSource } from './folder.js';
import { openHdf5Source } from './hdf5.js';
import type { ImageSource, SourceResult } from './types.js';

export interface OpenImageSourceOptions {
  /** HDF5 only: dataset holding the images. Default `'imgBrick'`. */
  readonly dataset?: string;
  /** Images with more pixels than this are unreadable (folders) or refused at open (HDF5). */
  readonly maxPixels?: number;
}

const ACCEPTED = 'expected a folder of images or an HDF5 file (.h5/.hdf5) holding a uint8 image brick';

/** `\x89HDF\r\n\x1a\n`, which starts the superblock. */
const HDF5_SIGNATURE = Buffer.from([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);

/**
 * Whether the file holds an HDF5 superblock. With a user block in front of it, the superblock
 * sits at offset 512, 1024, 2048, ... (the HDF5 spec's search order), so each is tried.
 */
export async function isHdf5File(path: string): Promise<boolean> {
  const handle = await open(path, 'r');
  try {
    const { size } = await handle.stat();
    const probe = Buffer.alloc(HDF5_SIGNATURE.length);
    for (let offset = 0; offset + probe.length <= size; offset = offset === 0 ? 512 : offset * 2) {
      const { bytesRead } = await handle.read(probe, 0, probe.length, offset);
      if (bytesRead === probe.length && probe.equals(HDF5_SIGNATURE)) return true;
    }
    return false;
  } finally {
    await handle.close();
  }
}

/** Opens `path` as a folder source or an HDF5 source; anything else is refused with what is accepted. */
export async function openImageSource(path: string, options: OpenImageSourceOptions = {}): Promise<ImageSource> {
  const info = await stat(path).catch((error: NodeJS.ErrnoException) => {
    const reason = error.code === 'ENOENT' ? 'no such file or folder' : error.message;
    throw new Error(`cannot open image source ${path}: ${reason}; ${ACCEPTED}`);
  });
  if (info.isDirectory()) {
    return openFolderSource(path, options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels });
  }
  if (info.isFile() && (await isHdf5File(path))) {
    return openHdf5Source(path, {
      ...(options.dataset === undefined ? {} : { dataset: options.dataset }),
      ...(options.maxPixels === undefined ? {} : { maxPixels: options.maxPixels }),
    });
  }
  const what = info.isFile() ? 'a file without the HDF5 signature' : 'neither a file nor a folder';
  throw new Error(`cannot open image source ${path}: it is ${what}; ${ACCEPTED}`);
}

/**
 * A view of the first `limit` images of `source` (all of them when it has fewer), for `--limit`.
 * Closing the view closes the source.
 */
export function limitSource(source: ImageSource, limit: number): ImageSource {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new RangeError(`limit must be a non-negative integer, got ${limit}`);
  }
  const size = Math.min(limit, source.size);
  const check = (name: string, value: number, max: number): void => {
    if (!Number.isInteger(value) || value < 0 || value > max) {
      throw new RangeError(`${name} must be an integer in [0, ${max}] (first ${size} images of ` +
        `${source.location}), got ${value}`);
    }
  };
  return {
    location: source.location,
    size,
    idOf(index: number): string {
      check('index', index, size - 1);
      return source.idOf(index);
    },
    async readBatch(start: number, end: number): Promise<SourceResult[]> {
      check('start', start, size);
      check('end', end, size);
      return source.readBatch(start, end);
    },
    async close(): Promise<void> {
      return source.close();
    },
  };
}
