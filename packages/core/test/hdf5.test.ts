import {
  copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, truncateSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Hdf5SourceError, openHdf5Source } from '../src/sources/hdf5.js';
import { isHdf5File, limitSource, openImageSource } from '../src/sources/open.js';
import type { ImageSource, SourceResult } from '../src/sources/types.js';
import { runPython } from './python.js';

const N = 7;
const H = 20;
const W = 24;

/**
 * Writes every fixture with h5py and dumps, for each dataset, the bytes h5py reads back, so the
 * comparison is against h5py rather than against our own idea of the data. The pixels are smooth
 * gradients plus a little noise so that gzip, shuffle and LZF really do compress the chunks.
 */
const FIXTURES = `
import h5py, json, numpy as np, sys
d = sys.argv[1]
n, h, w = ${N}, ${H}, ${W}
rng = np.random.default_rng(7)
i, y, x, c = np.meshgrid(np.arange(n), np.arange(h), np.arange(w), np.arange(3), indexing='ij')
rgb = ((i * 31 + y * 5 + x * 3 + c * 80 + rng.integers(0, 3, i.shape)) % 256).astype(np.uint8)
masks = {}
with h5py.File(d + '/brick.h5', 'w') as f:
    f.create_dataset('imgBrick', data=rgb)
    f.create_dataset('stimuli/rgb', data=rgb[::-1], chunks=(3, h, w, 3), compression='gzip')
    f.create_dataset('shuffled', data=rgb, chunks=(2, h, w, 3), compression='gzip', shuffle=True, fletcher32=True)
    f.create_dataset('grey', data=rgb[..., 1])
    f.create_dataset('grey1', data=rgb[..., 1:2])
    f.create_dataset('flags', data=rgb[..., 0] > 100)
    f.create_dataset('floaty', data=rgb.astype(np.float32))
    f.create_dataset('wide', data=rgb.astype(np.int16))
    f.create_dataset('single', data=rgb[0])
    f.create_dataset('flat', data=rgb.reshape(n, -1))
    f.create_dataset('rgba', data=np.concatenate([rgb, rgb[..., :1]], axis=-1))
    for name in ('stimuli/rgb', 'shuffled'):
        ds = f[name].id
        masks[name] = [ds.get_chunk_info(k).filter_mask for k in range(ds.get_num_chunks())]
with h5py.File(d + '/brick.h5', 'r') as f:
    for name in ('imgBrick', 'stimuli/rgb', 'shuffled', 'grey'):
        open(d + '/' + name.replace('/', '_') + '.bin', 'wb').write(f[name][...].tobytes())
with h5py.File(d + '/lzf.h5', 'w') as f:
    f.create_dataset('imgBrick', data=rgb, chunks=(1, h, w, 3), compression='lzf')
    ds = f['imgBrick'].id
    masks['lzf'] = [ds.get_chunk_info(k).filter_mask for k in range(ds.get_num_chunks())]
with h5py.File(d + '/corrupt.h5', 'w') as f:
    f.create_dataset('imgBrick', data=rgb, chunks=(1, h, w, 3), compression='gzip')
    info = f['imgBrick'].id.get_chunk_info(2)
with open(d + '/corrupt.h5', 'r+b') as raw:
    raw.seek(info.byte_offset)
    raw.write(bytes(info.size))
with h5py.File(d + '/userblock.dat', 'w', userblock_size=512) as f:
    f.create_dataset('pixels', data=rgb[:4])
with h5py.File(d + '/empty.h5', 'w') as f:
    pass
print(json.dumps(masks))
`;

let dir: string;
let filterMasks: Record<string, number[]>;

function reference(name: string): Uint8Array {
  return new Uint8Array(readFileSync(join(dir, `${name.replace('/', '_')}.bin`)));
}

async function openError(promise: Promise<unknown>): Promise<Hdf5SourceError> {
  const error: unknown = await promise.then(
    () => undefined,
    (reason: unknown) => reason,
  );
  expect(error).toBeInstanceOf(Hdf5SourceError);
  return error as Hdf5SourceError;
}

function pixels(results: readonly SourceResult[]): Uint8Array[] {
  return results.map((result) => {
    if (!result.ok) throw result.error;
    expect(result.image).toMatchObject({ width: W, height: H, channels: 3 });
    expect(result.id).toBe(String(result.index));
    return result.image.data;
  });
}

/** Reads the whole source in the given batch sizes and checks each row against h5py's bytes. */
async function expectRows(source: ImageSource, expected: Uint8Array, batches: readonly number[]): Promise<void> {
  const rowBytes = H * W * 3;
  let start = 0;
  for (const size of batches) {
    const end = Math.min(source.size, start + size);
    const rows = pixels(await source.readBatch(start, end));
    expect(rows).toHaveLength(end - start);
    rows.forEach((row, k) => {
      const index = start + k;
      expect(Buffer.from(row).equals(expected.subarray(index * rowBytes, (index + 1) * rowBytes))).toBe(true);
    });
    start = end;
  }
  expect(start).toBe(source.size);
}

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-hdf5-'));
  filterMasks = JSON.parse(runPython(FIXTURES, [dir])) as Record<string, number[]>;
  const brick = join(dir, 'brick.h5');
  copyFileSync(brick, join(dir, 'truncated.h5'));
  truncateSync(join(dir, 'truncated.h5'), Math.floor(statSync(brick).size / 2));
  writeFileSync(join(dir, 'notes.h5'), 'these are not the pixels you are looking for\n');
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('openHdf5Source', () => {
  it('reads the default imgBrick dataset, row by row equal to h5py, across batch boundaries', async () => {
    const path = join(dir, 'brick.h5');
    const source = await openHdf5Source(path);
    expect(source.size).toBe(N);
    expect(source.location).toBe(`${path}:/imgBrick`);
    expect(source.idOf(4)).toBe('4');
    await expectRows(source, reference('imgBrick'), [3, 1, 2, 5]);
    expect(await source.readBatch(2, 2)).toEqual([]);
    await source.close();
    await source.close();
    await expect(source.readBatch(0, 1)).rejects.toThrow(/after close/);
  });

  it('splits batches into bounded reads without changing the rows', async () => {
    // One row per read for a contiguous dataset; whole 3-row chunks for the chunked one.
    const small = await openHdf5Source(join(dir, 'brick.h5'), { maxReadBytes: H * W * 3 });
    await expectRows(small, reference('imgBrick'), [5, 2]);
    await small.close();
    const chunked = await openHdf5Source(join(dir, 'brick.h5'), { dataset: 'stimuli/rgb', maxReadBytes: 1 });
    await expectRows(chunked, reference('stimuli/rgb'), [2, 4, 1]);
    await chunked.close();
  });

  it('reads a custom, nested, chunked + gzip dataset', async () => {
    expect(filterMasks['stimuli/rgb']?.every((mask) => mask === 0)).toBe(true);
    const source = await openHdf5Source(join(dir, 'brick.h5'), { dataset: '/stimuli/rgb' });
    expect(source.location).toMatch(/brick\.h5:\/stimuli\/rgb$/);
    await expectRows(source, reference('stimuli/rgb'), [4, 3]);
    await source.close();
  });

  it('reads a chunked shuffle + gzip + fletcher32 dataset', async () => {
    expect(filterMasks['shuffled']?.every((mask) => mask === 0)).toBe(true);
    const source = await openHdf5Source(join(dir, 'brick.h5'), { dataset: 'shuffled' });
    await expectRows(source, reference('shuffled'), [1, 3, 3]);
    await source.close();
  });

  it.each(['grey', 'grey1'])('replicates greyscale dataset %s (N x H x W, N x H x W x 1) to RGB', async (dataset) => {
    const source = await openHdf5Source(join(dir, 'brick.h5'), { dataset });
    const grey = reference('grey');
    const rows = pixels(await source.readBatch(5, 7));
    rows.forEach((row, k) => {
      for (let p = 0; p < H * W; p++) {
        const value = grey[(5 + k) * H * W + p];
        expect([row[3 * p], row[3 * p + 1], row[3 * p + 2]]).toEqual([value, value, value]);
      }
    });
    await source.close();
  });

  it('refuses LZF at open time, naming the filter, file and dataset and suggesting h5repack', async () => {
    expect(filterMasks['lzf']?.every((mask) => mask === 0)).toBe(true);
    const path = join(dir, 'lzf.h5');
    const error = await openError(openHdf5Source(path));
    expect(error.message).toContain(path);
    expect(error.message).toContain("dataset '/imgBrick'");
    expect(error.message).toContain('LZF (id 32000)');
    expect(error.message).toMatch(/h5repack -f NONE/);
    expect(error.message).toMatch(/GZIP/);
  });

  it.each([
    ['floaty', /element type is float32, expected uint8/],
    ['wide', /element type is int16, expected uint8/],
    ['flags', /element type is 1-byte enum, expected uint8/],
    ['flat', /shape is 7 x 1440 \(rank 2\); expected uint8 images as N x H x W x 3/],
    ['single', /shape is 20 x 24 x 3, which looks like one H x W x 3 image without the leading image axis/],
    ['rgba', /shape is 7 x 20 x 24 x 4: 4 channels per pixel, expected 3 \(RGB\)/],
  ])('refuses dataset %s with the actual and expected type or shape', async (dataset, message) => {
    const path = join(dir, 'brick.h5');
    const error = await openError(openHdf5Source(path, { dataset }));
    expect(error.message).toContain(`HDF5 file ${path}, dataset '/${dataset}'`);
    expect(error.message).toMatch(message);
  });

  it('lists the datasets that exist when the requested one is missing', async () => {
    const error = await openError(openHdf5Source(join(dir, 'brick.h5'), { dataset: 'images' }));
    expect(error.message).toContain("dataset '/images': no such dataset; datasets in the file:");
    expect(error.message).toContain('/imgBrick (7 x 20 x 24 x 3 uint8)');
    expect(error.message).toContain('/stimuli/rgb (7 x 20 x 24 x 3 uint8)');
    expect(error.message).toContain('/floaty (7 x 20 x 24 x 3 float32)');
    const group = await openError(openHdf5Source(join(dir, 'brick.h5'), { dataset: 'stimuli' }));
    expect(group.message).toMatch(/'\/stimuli': not a dataset/);
    const empty = await openError(openHdf5Source(join(dir, 'empty.h5')));
    expect(empty.message).toMatch(/no such dataset; the file holds no datasets/);
  });

  it('refuses a truncated file, a non-HDF5 file and a missing file with the path', async () => {
    const truncated = join(dir, 'truncated.h5');
    const error = await openError(openHdf5Source(truncated));
    expect(error.message).toContain(`HDF5 file ${truncated}: cannot open as HDF5 (truncated file: eof = `);
    const notes = join(dir, 'notes.h5');
    expect((await openError(openHdf5Source(notes))).message).toContain(`${notes}: cannot open as HDF5 (file signature not found)`);
    const missing = join(dir, 'missing.h5');
    expect((await openError(openHdf5Source(missing))).message).toBe(`HDF5 file ${missing}: no such file`);
    expect((await openError(openHdf5Source(dir))).message).toBe(`HDF5 file ${dir}: not a regular file`);
  });

  it('reports a corrupt chunk as an error for its row only and goes on', async () => {
    const source = await openHdf5Source(join(dir, 'corrupt.h5'));
    const results = await source.readBatch(0, N);
    expect(results.map((result) => result.ok)).toEqual([true, true, false, true, true, true, true]);
    const bad = results[2];
    if (bad === undefined || bad.ok) throw new Error('row 2 should have failed');
    // HDF5 prints its error stack for the bad chunk to stderr here.
    expect(bad.error.message).toMatch(/^image 2 \(2\): HDF5 could not read or decode this image \(H5Dread returned -1; /);
    const expected = reference('imgBrick');
    const rowBytes = H * W * 3;
    pixels(results.filter((result) => result.ok)).forEach((row, k) => {
      const index = [0, 1, 3, 4, 5, 6][k] ?? -1;
      expect(Buffer.from(row).equals(expected.subarray(index * rowBytes, (index + 1) * rowBytes))).toBe(true);
    });
    await source.close();
    // h5wasm leaves the dataset open if a read throws, and HDF5 then keeps the file open.
    if (existsSync('/proc/self/fd')) {
      const open = readdirSync('/proc/self/fd').filter((fd) => {
        try {
          return readlinkSync(`/proc/self/fd/${fd}`) === join(dir, 'corrupt.h5');
        } catch {
          return false;
        }
      });
      expect(open).toEqual([]);
    }
  });

  it('rejects batch ranges outside the dataset', async () => {
    const source = await openHdf5Source(join(dir, 'brick.h5'));
    await expect(source.readBatch(0, N + 1)).rejects.toThrow(RangeError);
    await expect(source.readBatch(3, 2)).rejects.toThrow(/end \(2\) is before start \(3\)/);
    await expect(source.readBatch(-1, 2)).rejects.toThrow(/start must be an integer in \[0, 7\]/);
    expect(() => source.idOf(N)).toThrow(RangeError);
    await source.close();
  });
});

describe('openImageSource', () => {
  it('recognises HDF5 by its signature, also after a 512-byte user block and without an .h5 name', async () => {
    expect(await isHdf5File(join(dir, 'brick.h5'))).toBe(true);
    expect(await isHdf5File(join(dir, 'userblock.dat'))).toBe(true);
    expect(await isHdf5File(join(dir, 'notes.h5'))).toBe(false);
    const brick = await openImageSource(join(dir, 'brick.h5'));
    expect(brick.location).toBe(`${join(dir, 'brick.h5')}:/imgBrick`);
    await brick.close();
    const userblock = await openImageSource(join(dir, 'userblock.dat'), { dataset: 'pixels' });
    expect(userblock.size).toBe(4);
    await expectRows(userblock, reference('imgBrick'), [4]);
    await userblock.close();
  });

  it('opens a folder as a folder source', async () => {
    const folder = join(dir, 'photos');
    mkdirSync(folder, { recursive: true });
    writeFileSync(join(folder, 'a.png'), '');
    writeFileSync(join(folder, 'b.jpg'), '');
    const source = await openImageSource(folder, { maxPixels: 1000 });
    expect(source.size).toBe(2);
    expect([source.idOf(0), source.idOf(1)]).toEqual(['a.png', 'b.jpg']);
    await source.close();
  });

  it('refuses other files and missing paths, naming the path and what is accepted', async () => {
    const notes = join(dir, 'notes.h5');
    await expect(openImageSource(notes)).rejects.toThrow(
      `cannot open image source ${notes}: it is a file without the HDF5 signature; expected a folder of images or an HDF5 file`,
    );
    const missing = join(dir, 'nowhere');
    await expect(openImageSource(missing)).rejects.toThrow(
      `cannot open image source ${missing}: no such file or folder; expected a folder of images or an HDF5 file`,
    );
    // An HDF5 file that is no image brick keeps the HDF5 reader's own message.
    await expect(openImageSource(join(dir, 'lzf.h5'))).rejects.toThrow(/LZF \(id 32000\)/);
  });
});

describe('limitSource', () => {
  it('shows the first `limit` images and closes the source it wraps', async () => {
    const source = await openHdf5Source(join(dir, 'brick.h5'));
    const limited = limitSource(source, 3);
    expect(limited.size).toBe(3);
    expect(limited.location).toBe(source.location);
    expect(limited.idOf(2)).toBe('2');
    expect(() => limited.idOf(3)).toThrow(/index must be an integer in \[0, 2\] \(first 3 images of /);
    await expect(limited.readBatch(2, 4)).rejects.toThrow(RangeError);
    await expectRows(limited, reference('imgBrick'), [2, 1]);
    expect(limitSource(source, 100).size).toBe(N);
    expect(limitSource(source, 0).size).toBe(0);
    expect(() => limitSource(source, 1.5)).toThrow(/limit must be a non-negative integer, got 1.5/);
    await limited.close();
    await expect(source.readBatch(0, 1)).rejects.toThrow(/after close/);
  });
});
