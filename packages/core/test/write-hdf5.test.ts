import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { RawImage } from '../src/image/raw-image.js';
import { writeImageBrick } from '../src/sources/write-hdf5.js';
import { runPython } from './python.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-brick-'));

function image(seed: number, width: number, height: number): RawImage {
  return { data: Uint8Array.from({ length: width * height * 3 }, (_, j) => (seed * 31 + j * 7) % 256), width, height, channels: 3 };
}

describe('writeImageBrick', () => {
  it('writes an N x H x W x 3 uint8 brick that h5py reads back exactly', async () => {
    const path = join(dir, 'brick.h5');
    const images = [0, 1, 2].map((i) => image(i, 5, 4));
    expect(await writeImageBrick(path, 5, 4, images, { gzip: 4, dataset: 'stimuli' })).toBe(3);
    const read = JSON.parse(
      runPython(
        'import h5py, json, sys; d = h5py.File(sys.argv[1])["stimuli"]; print(json.dumps({"shape": d.shape, "dtype": str(d.dtype), "compression": d.compression, "data": d[()].ravel().tolist()}))',
        [path],
      ),
    ) as { shape: number[]; dtype: string; compression: string; data: number[] };
    expect(read.shape).toEqual([3, 4, 5, 3]);
    expect(read.dtype).toBe('uint8');
    expect(read.compression).toBe('gzip');
    expect(read.data).toEqual(images.flatMap((img) => Array.from(img.data)));
  });

  it('refuses an image of another size, naming it', async () => {
    await expect(writeImageBrick(join(dir, 'bad.h5'), 5, 4, [image(0, 5, 4), image(1, 6, 4)])).rejects.toThrow(
      /image 1 is 6x4x3, the brick holds 5x4x3/,
    );
  });
});
