/**
 * Writes images as an NSD-style HDF5 brick (N x H x W x 3 uint8, one chunk per image), one
 * image at a time so that a large set never has to sit in memory.
 */
import h5wasm from 'h5wasm/node';
import type { RawImage } from '../image/raw-image.js';

export interface WriteBrickOptions {
  /** Dataset name. Default 'imgBrick'. */
  readonly dataset?: string;
  /** gzip level 1-9, or undefined for no compression. */
  readonly gzip?: number;
}

export async function writeImageBrick(
  path: string,
  width: number,
  height: number,
  images: Iterable<RawImage> | AsyncIterable<RawImage>,
  options: WriteBrickOptions = {},
): Promise<number> {
  await h5wasm.ready;
  const file = new h5wasm.File(path, 'w');
  try {
    const dataset = file.create_dataset({
      name: options.dataset ?? 'imgBrick',
      data: new Uint8Array(0),
      shape: [0, height, width, 3],
      maxshape: [null, height, width, 3],
      chunks: [1, height, width, 3],
      dtype: '<B',
      ...(options.gzip === undefined ? {} : { compression: 'gzip' as const, compression_opts: options.gzip }),
    });
    let count = 0;
    for await (const image of images) {
      if (image.width !== width || image.height !== height || image.channels !== 3) {
        throw new RangeError(
          `image ${count} is ${image.width}x${image.height}x${image.channels}, the brick holds ${width}x${height}x3`,
        );
      }
      dataset.resize([count + 1, height, width, 3]);
      dataset.write_slice([[count, count + 1]], image.data);
      count += 1;
    }
    return count;
  } finally {
    file.close();
  }
}
