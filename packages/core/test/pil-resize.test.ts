import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

import { decodeImage } from '../src/image/decode.js';
import { pilResizeBilinear } from '../src/image/pil-resize.js';
import type { RawImage } from '../src/image/raw-image.js';
import { createRandom } from '../src/random.js';
import { runPythonScript } from './python.js';

const SCRIPT = fileURLToPath(new URL('./reference/pil_resize.py', import.meta.url));
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const MODES = { 1: 'L', 2: 'La', 3: 'RGB', 4: 'RGBa' } as const;

const work = mkdtempSync(join(tmpdir(), 'strata-resize-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let counter = 0;
/** Resizes `image` to every size with PIL (one Python run) and returns the results in order. */
function pilResizeAll(image: RawImage, sizes: readonly (readonly [number, number])[]): Uint8Array[] {
  const src = join(work, `src-${counter++}.raw`);
  writeFileSync(src, image.data);
  runPythonScript(SCRIPT, [
    src,
    MODES[image.channels],
    String(image.width),
    String(image.height),
    ...sizes.flatMap(([w, h]) => [String(w), String(h)]),
  ]);
  return sizes.map(([w, h]) => new Uint8Array(readFileSync(`${src}.${w}x${h}.raw`)));
}

/** Noise over a smooth ramp: noise reaches every rounding case, the ramp keeps neighbours related. */
function noiseImage(width: number, height: number, channels: RawImage['channels'], seed: number): RawImage {
  const random = createRandom(seed);
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        const ramp = ((x * 255) / width + (y * 255) / height) / 2;
        const value = (ramp + (random.next() - 0.5) * 160 * (c + 1)) | 0;
        data[(y * width + x) * channels + c] = Math.max(0, Math.min(255, value));
      }
    }
  }
  return { data, width, height, channels };
}

function expectSameBytes(actual: Uint8Array, expected: Uint8Array | undefined, what: string): void {
  expect(expected, what).toBeDefined();
  expect(actual.length, `${what}: length`).toBe(expected?.length);
  let first = -1;
  let count = 0;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected?.[i]) {
      count++;
      if (first < 0) first = i;
    }
  }
  expect(count, `${what}: ${count} bytes differ from PIL, first at ${first}`).toBe(0);
}

function check(image: RawImage, sizes: readonly (readonly [number, number])[], label: string): void {
  const expected = pilResizeAll(image, sizes);
  sizes.forEach(([width, height], i) => {
    const result = pilResizeBilinear(image, { width, height });
    expect([result.width, result.height, result.channels]).toEqual([width, height, image.channels]);
    expectSameBytes(result.data, expected[i], `${label} ${image.width}x${image.height} -> ${width}x${height}`);
  });
}

describe('pilResizeBilinear is byte-identical to Pillow BILINEAR', () => {
  it('RGB photo: 425x425 -> 224x224 and other reductions', async () => {
    const astronaut = await decodeImage(join(SKIMAGE, 'astronaut.png'));
    const [photo425] = pilResizeAll(astronaut, [[425, 425]]);
    expect(photo425).toBeDefined();
    const image: RawImage = { data: photo425 ?? new Uint8Array(), width: 425, height: 425, channels: 3 };
    check(image, [[224, 224], [100, 57], [423, 425], [425, 3]], 'astronaut');
  });

  it('RGB noise: large downscale 3000x2000 -> 336x224', () => {
    check(noiseImage(3000, 2000, 3, 1), [[336, 224], [2999, 224]], 'noise');
  });

  it('RGB noise: upscales, odd sizes, one axis only', () => {
    check(noiseImage(100, 80, 3, 2), [[280, 224], [101, 81], [100, 223], [333, 80], [99, 79], [1, 1]], 'noise');
    check(noiseImage(333, 251, 3, 3), [[297, 224], [224, 168], [7, 5]], 'noise');
    check(noiseImage(251, 333, 3, 4), [[224, 297], [1000, 3]], 'noise');
    check(noiseImage(1, 1, 3, 5), [[5, 3]], 'noise');
    check(noiseImage(999, 17, 3, 6), [[13, 1], [224, 224]], 'noise');
  });

  it('greyscale, two and four channels', async () => {
    const camera = await decodeImage(join(SKIMAGE, 'camera.png'));
    const grey = new Uint8Array(camera.width * camera.height);
    for (let i = 0; i < grey.length; i++) grey[i] = camera.data[i * 3] ?? 0;
    check({ data: grey, width: camera.width, height: camera.height, channels: 1 }, [[224, 224], [335, 224], [640, 427]], 'camera');
    check(noiseImage(640, 427, 1, 7), [[335, 224], [201, 333]], 'grey noise');
    check(noiseImage(301, 199, 2, 8), [[224, 148], [340, 224]], 'La noise');
    check(noiseImage(301, 199, 4, 9), [[224, 148], [340, 224]], 'RGBa noise');
  });

  it('same size is a copy, not the input array', () => {
    const image = noiseImage(20, 10, 3, 10);
    const result = pilResizeBilinear(image, { width: 20, height: 10 });
    expect(result.data).toEqual(image.data);
    expect(result.data).not.toBe(image.data);
  });

  it('rejects bad sizes and inconsistent images', () => {
    const image = noiseImage(4, 4, 3, 11);
    expect(() => pilResizeBilinear(image, { width: 0, height: 4 })).toThrow(/positive integers, got 0x4/);
    expect(() => pilResizeBilinear(image, { width: 2.5, height: 4 })).toThrow(RangeError);
    expect(() => pilResizeBilinear({ ...image, width: 5 }, { width: 2, height: 2 })).toThrow(/48 bytes, expected 5x4x3 = 60/);
  });

  it('resizes 425x425 RGB to 224x224 in a few milliseconds', () => {
    const image = noiseImage(425, 425, 3, 12);
    for (let i = 0; i < 5; i++) pilResizeBilinear(image, { width: 224, height: 224 }); // warm up the JIT
    const runs = 20;
    const start = performance.now();
    for (let i = 0; i < runs; i++) pilResizeBilinear(image, { width: 224, height: 224 });
    const ms = (performance.now() - start) / runs;
    console.log(`pilResizeBilinear 425x425 -> 224x224 RGB: ${ms.toFixed(2)} ms`);
    // Generous bound: the machine is shared; a regression to per-pixel allocation would be ~10x.
    expect(ms).toBeLessThan(50);
  });
});
