import { copyFileSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { crc32 } from 'node:zlib';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { DEFAULT_MAX_PIXELS, ImageDecodeError, decodeImage } from '../src/image/decode.js';
import { runPythonScript } from './python.js';

const SCRIPT = fileURLToPath(new URL('./reference/pil_decode.py', import.meta.url));
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
/** Real-world files: ICC profiles (rocket, hubble, chelsea), Adobe marker, palette, 1-bit, RGBA, multi-page. */
const SKIMAGE_COPIES = ['rocket.jpg', 'hubble_deep_field.jpg', 'chelsea.png', 'green_palette.png', 'checker_bilevel.png', 'horse.png', 'multipage.tif'];

interface PilResult {
  readonly file: string;
  readonly mode?: string;
  readonly width?: number;
  readonly height?: number;
  readonly error?: string;
}

const dir = mkdtempSync(join(tmpdir(), 'strata-decode-'));
const pil = new Map<string, PilResult>();

function pilDecode(files: readonly string[]): void {
  const lines = runPythonScript(SCRIPT, ['decode', ...files]).trim().split('\n');
  for (const line of lines) {
    const result = JSON.parse(line) as PilResult;
    pil.set(result.file, result);
  }
}

beforeAll(async () => {
  runPythonScript(SCRIPT, ['fixtures', dir]);
  // Files whose embedded ICC profile is not sRGB: sharp would convert through it, PIL does not.
  const astronaut = join(SKIMAGE, 'astronaut.png');
  await sharp(astronaut).withIccProfile('p3').jpeg({ quality: 90 }).toFile(join(dir, 'icc-p3.jpg'));
  await sharp(astronaut).withIccProfile('p3').png().toFile(join(dir, 'icc-p3.png'));
  await sharp(join(SKIMAGE, 'chelsea.png')).toColourspace('cmyk').withIccProfile('cmyk').jpeg().toFile(join(dir, 'icc-cmyk.jpg'));
  // 16-bit RGB TIFF, which PIL cannot write: PIL reads it keeping the high byte of each sample.
  const rgb16 = new Uint16Array(97 * 61 * 3).map((_, i) => (i * 40503 + 17) & 0xffff);
  const rgb16Tiff = join(dir, 'rgb-16bit.tif');
  await sharp(rgb16, { raw: { width: 97, height: 61, channels: 3 } }).toColourspace('rgb16').tiff({ compression: 'lzw' }).toFile(rgb16Tiff);
  expect((await sharp(rgb16Tiff).metadata()).depth).toBe('ushort');
  for (const name of SKIMAGE_COPIES) {
    copyFileSync(join(SKIMAGE, name), join(dir, `skimage-${name}`));
  }
  pilDecode(readdirSync(dir).map((name) => join(dir, name)));
}, 120_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

function fixtureNames(): string[] {
  // Listed at collection time from the generator's cases, so each file gets its own test.
  return [
    ...'rgb-420.jpg rgb-444.jpg rgb-422-progressive.jpg rgb-odd-333x251.jpg rgb-425x425.jpg grey.jpg cmyk-adobe.jpg cmyk-no-adobe.jpg exif-rotate-90.jpg'.split(' '),
    ...'rgb.png grey.png bilevel.png grey-alpha.png rgba.png palette.png palette-trns.png palette-4bit.png grey-2bit.png grey-4bit.png'.split(' '),
    ...'grey-trns.png rgb-trns.png grey-16bit.png grey-16bit-trns.png grey-alpha-16bit.png rgb-16bit.png rgba-16bit.png grey-16bit-pil.png'.split(' '),
    ...'rgb-lossy.webp rgb-lossless.webp rgba-lossy.webp'.split(' '),
    ...'rgb.tif rgb-lzw.tif rgb-deflate.tif grey.tif rgba.tif cmyk.tif grey-16bit.tif grey-16bit-lzw.tif'.split(' '),
    ...'icc-p3.jpg icc-p3.png icc-cmyk.jpg'.split(' '),
    'rgb-16bit.tif',
    ...SKIMAGE_COPIES.map((n) => `skimage-${n}`),
  ];
}

describe('decodeImage matches PIL Image.open(f).convert("RGB") byte for byte', () => {
  it('has a PIL result for every fixture the generator wrote', () => {
    const written = readdirSync(dir).filter((name) => !name.endsWith('.pil.rgb'));
    expect(written.sort()).toEqual(fixtureNames().sort());
  });

  it.each(fixtureNames())('%s', async (name) => {
    const path = join(dir, name);
    const reference = pil.get(path);
    expect(reference?.error, `PIL could not open ${name}`).toBeUndefined();
    const image = await decodeImage(path);
    expect([image.width, image.height, image.channels]).toEqual([reference?.width, reference?.height, 3]);
    const expected = new Uint8Array(readFileSync(`${path}.pil.rgb`));
    let differing = 0;
    let maxDiff = 0;
    for (let i = 0; i < expected.length; i++) {
      const d = Math.abs((image.data[i] ?? 0) - (expected[i] ?? 0));
      if (d > 0) differing++;
      if (d > maxDiff) maxDiff = d;
    }
    expect({ differing, maxDiff }, `${name} (PIL mode ${reference?.mode})`).toEqual({ differing: 0, maxDiff: 0 });
  });

  it('takes the same bytes from memory as from the file', async () => {
    const path = join(dir, 'rgb-420.jpg');
    const fromBytes = await decodeImage(new Uint8Array(readFileSync(path)));
    expect(Buffer.from(fromBytes.data).equals((await decodeImage(path)).data)).toBe(true);
  });

  it('ignores the ICC profile where sharp by default would apply it', async () => {
    const path = join(dir, 'icc-p3.jpg');
    const converted = await sharp(path).raw().toBuffer();
    const ours = await decodeImage(path);
    expect(Buffer.from(ours.data).equals(converted)).toBe(false);
  });

  it('does not apply EXIF orientation', async () => {
    const image = await decodeImage(join(dir, 'exif-rotate-90.jpg'));
    expect([image.width, image.height]).toEqual([451, 300]);
  });
});

describe('decodeImage errors name the file and the problem', () => {
  it('truncated JPEG, PNG and TIFF (PIL refuses them too)', async () => {
    for (const [name, keep] of [['rgb-420.jpg', 30_000], ['rgb.png', 30_000], ['rgb.tif', 200_000]] as const) {
      const path = join(dir, `truncated-${name}`);
      writeFileSync(path, readFileSync(join(dir, name)).subarray(0, keep));
      pilDecode([path]);
      expect(pil.get(path)?.error, `PIL on truncated ${name}`).toMatch(/truncated/);
      await expect(decodeImage(path)).rejects.toThrow(new RegExp(`^${path}: corrupt or truncated image data`));
    }
    // skimage's own truncated JPEG breaks already in the header.
    await expect(decodeImage(join(SKIMAGE, 'truncated.jpg'))).rejects.toThrow(/truncated\.jpg: corrupt image header/);
  });

  it('random bytes, an empty file, a missing file, a folder', async () => {
    const random = join(dir, 'random.jpg');
    writeFileSync(random, Buffer.from(Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 251)));
    await expect(decodeImage(random)).rejects.toThrow(`${random}: unrecognised or unsupported image format`);
    const empty = join(dir, 'empty.png');
    writeFileSync(empty, '');
    await expect(decodeImage(empty)).rejects.toThrow(`${empty}: empty file`);
    await expect(decodeImage(join(dir, 'missing.png'))).rejects.toThrow(`${join(dir, 'missing.png')}: cannot read file: no such file`);
    await expect(decodeImage(dir)).rejects.toThrow(/is a directory/);
    await expect(decodeImage(new Uint8Array([1, 2, 3]))).rejects.toThrow('<in-memory image of 3 bytes>: unrecognised');
  });

  it('a format sharp reads but PIL parity is not verified for', async () => {
    const error = await decodeImage(join(SKIMAGE, 'no_time_for_that_tiny.gif')).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ImageDecodeError);
    expect((error as Error).message).toMatch(/unsupported image format 'gif' \(expected one of jpeg, png, webp, tiff\)/);
  });

  it('refuses images over maxPixels from the header alone', async () => {
    expect(DEFAULT_MAX_PIXELS).toBe(2 * 89_478_485);
    await expect(decodeImage(join(dir, 'rgb.png'), { maxPixels: 239_999 })).rejects.toThrow(
      /rgb\.png: image is 600x400 = 240000 pixels, over the limit of 239999/,
    );
    await expect(decodeImage(join(dir, 'rgb.png'), { maxPixels: 240_000 })).resolves.toMatchObject({ width: 600 });
    // A PNG whose header claims 20000x20000 (its data is still 600x400's): the guard answers
    // from the header, before the decoder could fail or allocate.
    const bomb = join(dir, 'bomb.png');
    const png = Buffer.from(readFileSync(join(dir, 'rgb.png')));
    png.writeUInt32BE(20_000, 16);
    png.writeUInt32BE(20_000, 20);
    png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
    writeFileSync(bomb, png);
    await expect(decodeImage(bomb)).rejects.toThrow(/bomb\.png: image is 20000x20000 = 400000000 pixels, over the limit of 178956970/);
    await expect(decodeImage(bomb, { maxPixels: 0 })).rejects.toThrow(RangeError);
  });
});
