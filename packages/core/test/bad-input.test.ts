/**
 * Bad input at the library level, each file made by the reference PIL/h5py
 * (reference/bad_inputs.py) and judged against what PIL does with it: Strata accepts exactly the
 * image files `Image.open(f).convert('RGB')` accepts, with its pixels (16-bit, CMYK), and refuses
 * the others naming the file and the problem; decompression bombs (image files and HDF5 bricks
 * declaring 30,000 x 30,000 pixels) are refused from their headers, quickly and without
 * allocating the pixels. docs/reliability.md lists these cases.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_MAX_PIXELS, ImageDecodeError, decodeImage } from '../src/image/decode.js';
import { openFolderSource } from '../src/sources/folder.js';
import { Hdf5SourceError, openHdf5Source } from '../src/sources/hdf5.js';
import { openImageSource } from '../src/sources/open.js';
import { runPythonScript } from './python.js';

const SCRIPT = fileURLToPath(new URL('./reference/bad_inputs.py', import.meta.url));

interface PilResult {
  readonly file: string;
  readonly bytes: number;
  readonly mode?: string;
  readonly width?: number;
  readonly height?: number;
  readonly error?: string;
}

/** 'accept': PIL's pixels byte for byte; otherwise what the message says after "<path>: ". */
const CASES: Readonly<Record<string, 'accept' | RegExp>> = {
  'good.jpg': 'accept',
  'good.png': 'accept',
  'rgb16.png': 'accept',
  'cmyk.jpg': 'accept',
  'corrupt.jpg': /^corrupt image header \(VipsJpeg: Bogus Huffman table definition\)$/,
  'corrupt.png': /^corrupt or truncated image data \(vipspng: libpng read error\)$/,
  'truncated.jpg': /^corrupt or truncated image data \(VipsJpeg: premature end of JPEG image\)$/,
  'truncated.png': /^corrupt or truncated image data \(vipspng: libpng read error\)$/,
  'bomb.png': /^image is 30000x30000 = 900000000 pixels, over the limit of 178956970 \(decompression-bomb guard, as in PIL\)$/,
  'bomb.jpg': /^image is 30000x30000 = 900000000 pixels, over the limit of 178956970 \(decompression-bomb guard, as in PIL\)$/,
};

let dir: string;
const images = (): string => join(dir, 'images');
const pil = new Map<string, PilResult>();

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-bad-input-'));
  for (const line of runPythonScript(SCRIPT, ['images', images(), join(dir, 'pil')]).trim().split('\n')) {
    const result = JSON.parse(line) as PilResult;
    pil.set(result.file, result);
  }
  runPythonScript(SCRIPT, ['hdf5', join(dir, 'hdf5')]);
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('image files: Strata accepts what PIL convert("RGB") accepts, and says why it refuses the rest', () => {
  it('has a PIL verdict for every fixture', () => {
    expect([...pil.keys()].sort()).toEqual(Object.keys(CASES).sort());
  });

  it.each(Object.keys(CASES))('%s', async (name) => {
    const path = join(images(), name);
    const reference = pil.get(name) as PilResult;
    const expected = CASES[name] as 'accept' | RegExp;
    if (expected === 'accept') {
      expect(reference.error, `PIL refused ${name}`).toBeUndefined();
      const image = await decodeImage(path);
      expect([image.width, image.height, image.channels]).toEqual([reference.width, reference.height, 3]);
      const want = readFileSync(join(dir, 'pil', `${name}.pil.rgb`));
      expect(Buffer.from(image.data).equals(want), `${name} (PIL mode ${reference.mode}) differs from PIL`).toBe(true);
      return;
    }
    expect(reference.error, `PIL accepted ${name}`).toBeDefined();
    const error = await decodeImage(path).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as ImageDecodeError).source).toBe(path);
    expect((error as ImageDecodeError).message.startsWith(`${path}: `)).toBe(true);
    expect((error as ImageDecodeError).reason).toMatch(expected);
  });

  it('refuses the 30,000 x 30,000 bombs from their headers: small files, quickly, without allocating the pixels', async () => {
    for (const name of ['bomb.png', 'bomb.jpg']) {
      expect(pil.get(name)?.error).toMatch(/DecompressionBombError/);
      expect(pil.get(name)?.bytes).toBeLessThan(200_000);
      const rss = process.memoryUsage().rss;
      const started = performance.now();
      await expect(decodeImage(join(images(), name))).rejects.toThrow(/over the limit of 178956970/);
      await expect(decodeImage(readFileSync(join(images(), name)), { maxPixels: 40_000_000 })).rejects.toThrow(
        /^<in-memory image of \d+ bytes>: image is 30000x30000 = 900000000 pixels, over the limit of 40000000/,
      );
      expect(performance.now() - started, `${name} took too long`).toBeLessThan(2000);
      // As RGB the image is 2.7 GB; refusing it costs next to nothing.
      expect(process.memoryUsage().rss - rss, `${name} grew the RSS`).toBeLessThan(64 << 20);
    }
  });

  it('reports each bad file of a folder with its index and path, and reads the good ones', async () => {
    const source = await openFolderSource(images());
    const results = await source.readBatch(0, source.size);
    await source.close();
    const ids = results.map((result) => result.id);
    expect(ids).toEqual(Object.keys(CASES).sort());
    for (const result of results) {
      const expected = CASES[result.id];
      expect(result.ok, result.id).toBe(expected === 'accept');
      if (!result.ok) {
        expect(result.error.index).toBe(result.index);
        const prefix = `image ${result.index} (${result.id}): ${join(images(), result.id)}: `;
        expect(result.error.message.startsWith(prefix), result.error.message).toBe(true);
        expect(result.error.message.slice(prefix.length)).toMatch(expected as RegExp);
      }
    }
  });
});

describe('HDF5 bricks declaring huge images', () => {
  it('refuses a few-KB file of two 30,000 x 30,000 images at open, naming the file, dataset and size', async () => {
    const path = join(dir, 'hdf5', 'bomb.h5');
    const started = performance.now();
    const error = await openHdf5Source(path).then(
      () => null,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(Hdf5SourceError);
    expect((error as Error).message).toBe(
      `HDF5 file ${path}, dataset '/imgBrick': shape is 2 x 30000 x 30000 x 3: each image is 30000x30000 = 900000000 pixels, ` +
        `over the limit of ${DEFAULT_MAX_PIXELS} (decompression-bomb guard, as for image files)`,
    );
    expect(performance.now() - started).toBeLessThan(2000);
    await expect(openHdf5Source(path, { maxPixels: 0 })).rejects.toThrow(RangeError);
  });

  it('applies maxPixels to ordinary bricks too', async () => {
    const path = join(dir, 'hdf5', 'lzf.h5');
    // The size check comes before the filter check: either refusal names the file.
    await expect(openHdf5Source(path, { maxPixels: 1023 })).rejects.toThrow(/each image is 32x32 = 1024 pixels, over the limit of 1023/);
    await expect(openHdf5Source(path, { maxPixels: 1024 })).rejects.toThrow(/LZF \(id 32000\)/);
    // openImageSource passes its maxPixels on to HDF5 as well as to folders.
    await expect(openImageSource(path, { maxPixels: 1023 })).rejects.toThrow(/over the limit of 1023/);
  });
});
