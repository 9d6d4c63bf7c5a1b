import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodeImage } from '../src/image/decode.js';
import { openFolderSource } from '../src/sources/folder.js';
import { ImageReadError } from '../src/sources/types.js';

const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const root = mkdtempSync(join(tmpdir(), 'strata-folder-'));
const images = join(root, 'images');

/** Relative path → how it is made. Upper/lower case and nesting test the ordering. */
const LAYOUT: Record<string, 'jpeg' | 'png' | 'webp' | 'tiff' | 'random' | 'truncated' | 'text'> = {
  'b.jpg': 'jpeg',
  'B.PNG': 'png',
  'a/z.jpeg': 'jpeg',
  'a/b/c.webp': 'webp',
  'a-b.TIF': 'tiff',
  'a_c.tiff': 'tiff',
  'x.jpg': 'random',
  'sub/half.jpg': 'truncated',
  'notes.txt': 'text',
  'sub/readme.md': 'text',
};

beforeAll(async () => {
  const photo = sharp(join(SKIMAGE, 'chelsea.png')).resize(64, 48);
  for (const [id, kind] of Object.entries(LAYOUT)) {
    const path = join(images, ...id.split('/'));
    mkdirSync(join(path, '..'), { recursive: true });
    if (kind === 'random') {
      writeFileSync(path, Buffer.from(Array.from({ length: 3000 }, (_, i) => (i * 2654435761) >>> 24)));
    } else if (kind === 'truncated') {
      const full = await sharp(join(SKIMAGE, 'astronaut.png')).jpeg().toBuffer();
      writeFileSync(path, full.subarray(0, full.length >> 1));
    } else if (kind === 'text') {
      writeFileSync(path, 'not an image');
    } else {
      await photo.clone().toFormat(kind).toFile(path);
    }
  }
  // A link to an image file counts; a link to a folder is not followed (no cycles).
  copyFileSync(join(images, 'b.jpg'), join(root, 'outside.jpg'));
  symlinkSync(join(root, 'outside.jpg'), join(images, 'linked.jpg'));
  symlinkSync(images, join(images, 'sub', 'loop'));
  mkdirSync(join(root, 'empty', 'nested'), { recursive: true });
  writeFileSync(join(root, 'empty', 'nested', 'photo.gif'), 'GIF89a');
});

afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('openFolderSource', () => {
  it('lists image files recursively, sorted by relative id in code-unit order', async () => {
    const source = await openFolderSource(images);
    const ids = Array.from({ length: source.size }, (_, i) => source.idOf(i));
    // Code units: 'B' (66) < '_' (95) < 'a' (97); '-' (45) < '/' (47) < '_' (95).
    expect(ids).toEqual(['B.PNG', 'a-b.TIF', 'a/b/c.webp', 'a/z.jpeg', 'a_c.tiff', 'b.jpg', 'linked.jpg', 'sub/half.jpg', 'x.jpg']);
    expect(source.location).toBe(images);
    await source.close();
  });

  it('decodes a batch in order, reporting bad files without throwing', async () => {
    const source = await openFolderSource(images, { concurrency: 3 });
    const results = await source.readBatch(0, source.size);
    expect(results.map((r) => [r.index, r.id, r.ok])).toEqual([
      [0, 'B.PNG', true],
      [1, 'a-b.TIF', true],
      [2, 'a/b/c.webp', true],
      [3, 'a/z.jpeg', true],
      [4, 'a_c.tiff', true],
      [5, 'b.jpg', true],
      [6, 'linked.jpg', true],
      [7, 'sub/half.jpg', false],
      [8, 'x.jpg', false],
    ]);
    const first = results[0];
    expect(first?.ok && [first.image.width, first.image.height, first.image.channels]).toEqual([64, 48, 3]);
    const expected = await decodeImage(join(images, 'b.jpg'));
    const b = results[5];
    expect(b?.ok && Buffer.from(b.image.data).equals(expected.data)).toBe(true);

    const truncated = results[7];
    expect(truncated?.ok).toBe(false);
    if (truncated && !truncated.ok) {
      expect(truncated.error).toBeInstanceOf(ImageReadError);
      expect(truncated.error.message).toContain(`image 7 (sub/half.jpg): ${join(images, 'sub', 'half.jpg')}: corrupt or truncated`);
    }
    const corrupt = results[8];
    if (corrupt && !corrupt.ok) {
      expect(corrupt.error.message).toContain(`image 8 (x.jpg): ${join(images, 'x.jpg')}: unrecognised or unsupported image format`);
    }
    await source.close();
  });

  it('reads sub-ranges and checks its arguments', async () => {
    const source = await openFolderSource(images);
    const middle = await source.readBatch(2, 4);
    expect(middle.map((r) => r.id)).toEqual(['a/b/c.webp', 'a/z.jpeg']);
    expect(await source.readBatch(3, 3)).toEqual([]);
    await expect(source.readBatch(0, 10)).rejects.toThrow(/end must be an integer in \[0, 9\].*got 10/);
    await expect(source.readBatch(4, 2)).rejects.toThrow(/end \(2\) is before start \(4\)/);
    expect(() => source.idOf(9)).toThrow(/index must be an integer in \[0, 8\].*got 9/);
    await source.close();
    await expect(source.readBatch(0, 1)).rejects.toThrow(/after close/);
  });

  it('applies maxPixels to every image', async () => {
    const source = await openFolderSource(images, { maxPixels: 1000 });
    const [result] = await source.readBatch(0, 1);
    expect(result?.ok).toBe(false);
    if (result && !result.ok) expect(result.error.reason).toMatch(/64x48 = 3072 pixels, over the limit of 1000/);
  });

  it('refuses a missing folder, a file, and a folder without images, naming it', async () => {
    await expect(openFolderSource(join(root, 'nope'))).rejects.toThrow(`image folder ${join(root, 'nope')}: no such folder`);
    await expect(openFolderSource(join(root, 'outside.jpg'))).rejects.toThrow(/outside\.jpg: not a folder/);
    await expect(openFolderSource(join(root, 'empty'))).rejects.toThrow(
      new RegExp(`image folder ${join(root, 'empty')}: no images found \\(looked recursively for files ending in \\.jpg, \\.jpeg, \\.png, \\.webp, \\.tif, \\.tiff`),
    );
  });

  it('gives the same pixels as decoding the files directly', async () => {
    const source = await openFolderSource(images);
    const [png] = await source.readBatch(0, 1);
    const direct = await decodeImage(readFileSync(join(images, 'B.PNG')));
    expect(png?.ok && Buffer.from(png.image.data).equals(direct.data)).toBe(true);
  });
});
