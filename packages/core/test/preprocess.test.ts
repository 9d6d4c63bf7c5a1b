import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { decodeImage } from '../src/image/decode.js';
import {
  IMAGENET_MEAN,
  IMAGENET_STD,
  PREPROCESSED_LENGTH,
  centerCropNormalize,
  centerCropOffset,
  preprocessImage,
  resizedSize,
} from '../src/image/preprocess.js';
import { PYTHON } from './python.js';

const SCRIPT = fileURLToPath(new URL('./reference/torchvision_preprocess.py', import.meta.url));
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
/** The contract with the reference; in practice the outputs are bit-identical (checked below). */
const TOLERANCE = 1e-6;

const dir = mkdtempSync(join(tmpdir(), 'strata-preprocess-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** torchvision's tensors for `paths`, one Float32Array of 3×224×224 each. */
function torchvision(paths: readonly string[], cropOnly = false): Float32Array[] {
  let stdout: Buffer;
  try {
    stdout = execFileSync(PYTHON, [SCRIPT, ...(cropOnly ? ['--crop-only'] : []), ...paths], {
      maxBuffer: 1 << 30,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    const stderr = String((error as { stderr?: Buffer }).stderr ?? '');
    // Not a skip: the parity test is the point of this module, and CI installs torchvision.
    throw new Error(`torchvision reference failed (${PYTHON} ${SCRIPT}):\n${stderr}`);
  }
  expect(stdout.length).toBe(paths.length * PREPROCESSED_LENGTH * 4);
  const all = new Float32Array(stdout.buffer.slice(stdout.byteOffset, stdout.byteOffset + stdout.length));
  return paths.map((_, i) => all.subarray(i * PREPROCESSED_LENGTH, (i + 1) * PREPROCESSED_LENGTH));
}

function compare(actual: Float32Array, expected: Float32Array | undefined): { maxAbs: number; notBitExact: number } {
  expect(expected?.length).toBe(actual.length);
  let maxAbs = 0;
  let notBitExact = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i] ?? Number.NaN;
    const e = expected?.[i] ?? Number.NaN;
    const d = Math.abs(a - e);
    if (!(d <= maxAbs)) maxAbs = d;
    if (a !== e) notBitExact++;
  }
  return { maxAbs, notBitExact };
}

const PHOTOS = ['astronaut.png', 'coffee.png', 'chelsea.png', 'camera.png', 'motorcycle_left.png', 'rocket.jpg', 'hubble_deep_field.jpg', 'retina.jpg'];
/** name → [width, height]: sizes that hit square, odd, tall, no-resize and round-half-even cases. */
const GENERATED: Record<string, readonly [number, number]> = {
  'square-425.jpg': [425, 425],
  'odd-333x251.jpg': [333, 251],
  'tall-251x333.jpg': [251, 333],
  'short-side-224-300x224.png': [300, 224],
  'half-even-225x224.png': [225, 224],
  'half-even-227x224.png': [227, 224],
  'tiny-31x17.jpg': [31, 17],
};

beforeAll(async () => {
  const source = join(SKIMAGE, 'chelsea.png');
  for (const [name, [width, height]] of Object.entries(GENERATED)) {
    const resized = sharp(source).resize(width, height, { fit: 'fill' });
    await (name.endsWith('.jpg') ? resized.jpeg({ quality: 90 }) : resized.png()).toFile(join(dir, name));
  }
}, 60_000);

describe('preprocessImage equals torchvision Resize(224)/CenterCrop(224)/ToTensor/Normalize', () => {
  it('on photos and generated sizes, within 1e-6 (and in fact bit for bit)', async () => {
    const paths = [...PHOTOS.map((name) => join(SKIMAGE, name)), ...Object.keys(GENERATED).map((name) => join(dir, name))];
    const expected = torchvision(paths);
    const report: string[] = [];
    let worst = 0;
    for (const [i, path] of paths.entries()) {
      const image = await decodeImage(path);
      const { maxAbs, notBitExact } = compare(preprocessImage(image), expected[i]);
      report.push(`${path.split('/').pop()} ${image.width}x${image.height}: max |diff| ${maxAbs}, ${notBitExact} floats not bit-exact`);
      worst = Math.max(worst, maxAbs);
      expect(maxAbs, path).toBeLessThanOrEqual(TOLERANCE);
      expect(notBitExact, path).toBe(0);
    }
    console.log(`max |ours - torchvision| over ${paths.length} images: ${worst}\n  ${report.join('\n  ')}`);
  }, 120_000);

  it('CenterCrop pads images smaller than the crop with zeros like torchvision', async () => {
    const sizes: readonly (readonly [number, number])[] = [[200, 150], [225, 301], [223, 224], [224, 224], [100, 300], [1, 1]];
    const paths: string[] = [];
    for (const [width, height] of sizes) {
      const path = join(dir, `crop-${width}x${height}.png`);
      await sharp(join(SKIMAGE, 'coffee.png')).resize(width, height, { fit: 'fill' }).png().toFile(path);
      paths.push(path);
    }
    const expected = torchvision(paths, true);
    for (const [i, path] of paths.entries()) {
      const { maxAbs, notBitExact } = compare(centerCropNormalize(await decodeImage(path)), expected[i]);
      expect({ maxAbs, notBitExact }, path).toEqual({ maxAbs: 0, notBitExact: 0 });
    }
  }, 60_000);

  it('writes at an offset into a caller-owned batch buffer', async () => {
    const image = await decodeImage(join(SKIMAGE, 'coffee.png'));
    const single = preprocessImage(image);
    const batch = new Float32Array(3 * PREPROCESSED_LENGTH).fill(7);
    expect(preprocessImage(image, batch, PREPROCESSED_LENGTH)).toBe(batch);
    expect(batch[PREPROCESSED_LENGTH - 1]).toBe(7);
    expect(batch[2 * PREPROCESSED_LENGTH]).toBe(7);
    const written = batch.subarray(PREPROCESSED_LENGTH, 2 * PREPROCESSED_LENGTH);
    expect(Buffer.from(written.buffer, written.byteOffset, written.byteLength).equals(Buffer.from(single.buffer))).toBe(true);
    expect(() => preprocessImage(image, batch, 2 * PREPROCESSED_LENGTH + 1)).toThrow(/does not fit an output of length 451584/);
    expect(() => preprocessImage({ ...image, channels: 1 })).toThrow(/RGB image \(3 channels\), got 1/);
  });
});

describe('size and offset helpers follow torchvision 0.14 / Python semantics', () => {
  it('resizedSize truncates int(224 * long / short)', () => {
    expect(resizedSize(451, 300)).toEqual({ width: 336, height: 224 }); // 336.746... -> 336
    expect(resizedSize(300, 451)).toEqual({ width: 224, height: 336 });
    expect(resizedSize(425, 425)).toEqual({ width: 224, height: 224 });
    expect(resizedSize(3000, 2000)).toEqual({ width: 336, height: 224 });
    expect(resizedSize(641, 427)).toEqual({ width: 336, height: 224 });
  });

  it('centerCropOffset uses round-half-even and pads (crop - size) // 2 before', () => {
    expect(centerCropOffset(224, 224)).toBe(0);
    expect(centerCropOffset(225, 224)).toBe(0); // round(0.5) = 0
    expect(centerCropOffset(227, 224)).toBe(2); // round(1.5) = 2
    expect(centerCropOffset(229, 224)).toBe(2); // round(2.5) = 2
    expect(centerCropOffset(336, 224)).toBe(56);
    expect(centerCropOffset(200, 224)).toBe(-12);
    expect(centerCropOffset(201, 224)).toBe(-11); // pads 11 before, 12 after
  });

  it('exports the ImageNet statistics torchvision uses', () => {
    expect(IMAGENET_MEAN).toEqual([0.485, 0.456, 0.406]);
    expect(IMAGENET_STD).toEqual([0.229, 0.224, 0.225]);
  });
});
