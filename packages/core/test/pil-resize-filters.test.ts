/**
 * pilResize with every Resample.c filter (BOX, BILINEAR, HAMMING, BICUBIC, LANCZOS) against
 * Debian's Pillow 9.4: pixels on photos and noise, and the integer weights of thousands of
 * size pairs against a line-by-line Python replica of precompute_coeffs, whose `math.sin` is
 * glibc's, as in Pillow's C (V8's Math.sin differs from it by 1 ulp on ~3% of arguments).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

import { decodeImage } from '../src/image/decode.js';
import { PIL_FILTERS, type PilFilter, pilResize, pilResizeBilinear, pilResizeCoefficients } from '../src/image/pil-resize.js';
import type { RawImage } from '../src/image/raw-image.js';
import { createRandom } from '../src/random.js';
import { runPython } from './python.js';

const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const MODES = { 1: 'L', 2: 'La', 3: 'RGB', 4: 'RGBa' } as const;
const PIL_NAMES: Record<PilFilter, string> = {
  box: 'BOX',
  bilinear: 'BILINEAR',
  hamming: 'HAMMING',
  bicubic: 'BICUBIC',
  lanczos: 'LANCZOS',
};

const work = mkdtempSync(join(tmpdir(), 'strata-resize-filters-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** argv: SRC MODE W H then (OUT_W OUT_H FILTER)*; writes SRC.<i>.raw per target. */
const PIL_RESIZE = `
import sys
from PIL import Image
src, mode, w, h, *targets = sys.argv[1:]
image = Image.frombytes(mode, (int(w), int(h)), open(src, 'rb').read())
for i in range(0, len(targets), 3):
    size = (int(targets[i]), int(targets[i + 1]))
    out = image.resize(size, getattr(Image.Resampling, targets[i + 2]))
    open(f'{src}.{i // 3}.raw', 'wb').write(out.tobytes())
`;

type Target = readonly [number, number, PilFilter];

let counter = 0;
function pilResizeAll(image: RawImage, targets: readonly Target[]): Uint8Array[] {
  const src = join(work, `src-${counter++}.raw`);
  writeFileSync(src, image.data);
  runPython(PIL_RESIZE, [
    src,
    MODES[image.channels],
    String(image.width),
    String(image.height),
    ...targets.flatMap(([w, h, f]) => [String(w), String(h), PIL_NAMES[f]]),
  ]);
  return targets.map((_, i) => new Uint8Array(readFileSync(`${src}.${i}.raw`)));
}

function noiseImage(width: number, height: number, channels: RawImage['channels'], seed: number): RawImage {
  const random = createRandom(seed);
  const data = new Uint8Array(width * height * channels);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      for (let c = 0; c < channels; c++) {
        // Noise reaches the clamps (LANCZOS and BICUBIC overshoot), the ramp keeps structure.
        const ramp = ((x * 255) / width + (y * 255) / height) / 2;
        data[(y * width + x) * channels + c] = Math.max(0, Math.min(255, (ramp + (random.next() - 0.5) * 300) | 0));
      }
    }
  }
  return { data, width, height, channels };
}

function countDiffering(actual: Uint8Array, expected: Uint8Array): { count: number; first: number } {
  let count = 0;
  let first = -1;
  for (let i = 0; i < actual.length; i++) {
    if (actual[i] !== expected[i]) {
      count++;
      if (first < 0) first = i;
    }
  }
  return { count, first };
}

function check(image: RawImage, targets: readonly Target[], label: string): void {
  const expected = pilResizeAll(image, targets);
  targets.forEach(([width, height, filter], i) => {
    const result = pilResize(image, { width, height }, { filter });
    const what = `${label} ${image.width}x${image.height} -> ${width}x${height} ${filter}`;
    expect([result.width, result.height, result.channels], what).toEqual([width, height, image.channels]);
    const reference = expected[i] ?? new Uint8Array();
    expect(result.data.length, `${what}: length`).toBe(reference.length);
    const { count, first } = countDiffering(result.data, reference);
    expect(count, `${what}: ${count} bytes differ from PIL, first at ${first}`).toBe(0);
  });
}

/** Every filter for each size. */
function allFilters(sizes: readonly (readonly [number, number])[]): Target[] {
  return sizes.flatMap(([w, h]) => PIL_FILTERS.map((f) => [w, h, f] as const));
}

describe('pilResize is byte-identical to Pillow 9.4 for every Resample.c filter', () => {
  it('RGB photos, the mosaic case: longer side to 100 (and atlas thumbnails)', async () => {
    const astronaut = await decodeImage(join(SKIMAGE, 'astronaut.png'));
    check(astronaut, allFilters([[100, 100], [128, 128], [32, 32], [37, 91]]), 'astronaut');
    const chelsea = await decodeImage(join(SKIMAGE, 'chelsea.png'));
    check(chelsea, allFilters([[100, 66], [451, 299], [64, 42]]), 'chelsea');
    const rocket = await decodeImage(join(SKIMAGE, 'rocket.jpg'));
    check(rocket, allFilters([[100, 66], [3, 2]]), 'rocket');
  });

  it('noise: large downscale, upscales, one axis only, 1 pixel', () => {
    check(noiseImage(1411, 1000, 3, 1), allFilters([[100, 70], [1411, 71]]), 'noise');
    check(noiseImage(60, 41, 3, 2), allFilters([[200, 137], [61, 41], [60, 123], [1, 1], [7, 40]]), 'noise');
    check(noiseImage(1, 1, 3, 3), allFilters([[5, 3]]), 'noise');
  });

  it('L, La and RGBa images (channels resampled independently, as Pillow does for these modes)', async () => {
    const camera = await decodeImage(join(SKIMAGE, 'camera.png'));
    const grey = new Uint8Array(camera.width * camera.height);
    for (let i = 0; i < grey.length; i++) grey[i] = camera.data[i * 3] ?? 0;
    check({ data: grey, width: camera.width, height: camera.height, channels: 1 }, allFilters([[100, 100], [700, 20]]), 'camera L');
    check(noiseImage(301, 199, 2, 4), allFilters([[100, 66]]), 'La noise');
    check(noiseImage(301, 199, 4, 5), allFilters([[100, 66], [340, 224]]), 'RGBa noise');
  });

  it('keeps pilResizeBilinear as it was, and the default filter is Pillow\'s (bicubic)', () => {
    const image = noiseImage(50, 40, 3, 6);
    expect(pilResizeBilinear(image, { width: 20, height: 17 }).data).toEqual(
      pilResize(image, { width: 20, height: 17 }, { filter: 'bilinear' }).data,
    );
    expect(pilResize(image, { width: 20, height: 17 }).data).toEqual(
      pilResize(image, { width: 20, height: 17 }, { filter: 'bicubic' }).data,
    );
  });

  it('rejects unknown filters and bad sizes, naming what was given', () => {
    const image = noiseImage(4, 4, 3, 7);
    expect(() => pilResize(image, { width: 2, height: 2 }, { filter: 'nearest' as PilFilter })).toThrow(
      /unknown resampling filter 'nearest', expected one of box, bilinear, hamming, bicubic, lanczos/,
    );
    expect(() => pilResizeCoefficients(0, 3, 'lanczos')).toThrow(/inSize must be a positive integer, got 0/);
  });
});

/**
 * Pillow 9.4's precompute_coeffs + normalize_coeffs_8bpc in Python, operation for operation
 * (Python floats are C doubles and math.sin/cos are glibc's, as in Pillow's C).
 * argv: OUT FILTER then (IN OUT)*; writes int32 first, count, weights for each pair.
 */
const COEFFS_REPLICA = `
import math, struct, sys
from array import array
F054 = struct.unpack('f', struct.pack('f', 0.54))[0]
F046 = struct.unpack('f', struct.pack('f', 0.46))[0]
def box(x): return 1.0 if (x > -0.5 and x <= 0.5) else 0.0
def bilinear(x):
    if x < 0.0: x = -x
    return 1.0 - x if x < 1.0 else 0.0
def hamming(x):
    if x < 0.0: x = -x
    if x == 0.0: return 1.0
    if x >= 1.0: return 0.0
    x = x * math.pi
    return math.sin(x) / x * (F054 + F046 * math.cos(x))
def bicubic(x):
    a = -0.5
    if x < 0.0: x = -x
    if x < 1.0: return ((a + 2.0) * x - (a + 3.0)) * x * x + 1
    if x < 2.0: return (((x - 5) * x + 8) * x - 4) * a
    return 0.0
def sinc(x):
    if x == 0.0: return 1.0
    x = x * math.pi
    return math.sin(x) / x
def lanczos(x):
    return sinc(x) * sinc(x / 3) if (-3.0 <= x and x < 3.0) else 0.0
FILTERS = {'box': (box, 0.5), 'bilinear': (bilinear, 1.0), 'hamming': (hamming, 1.0), 'bicubic': (bicubic, 2.0), 'lanczos': (lanczos, 3.0)}
out_path, name, *pairs = sys.argv[1:]
fn, sup = FILTERS[name]
out = array('i')
for p in range(0, len(pairs), 2):
    in_size, out_size = int(pairs[p]), int(pairs[p + 1])
    scale = in_size / out_size
    filterscale = scale if scale >= 1.0 else 1.0
    support = sup * filterscale
    ksize = int(math.ceil(support)) * 2 + 1
    first, count, weights = array('i'), array('i'), array('i', [0]) * (out_size * ksize)
    for xx in range(out_size):
        center = 0.0 + (xx + 0.5) * scale
        ww = 0.0
        ss = 1.0 / filterscale
        xmin = max(int(center - support + 0.5), 0)
        xmax = min(int(center + support + 0.5), in_size) - xmin
        k = [fn((x + xmin - center + 0.5) * ss) for x in range(xmax)]
        for w in k: ww += w
        for x in range(xmax):
            v = k[x] / ww if ww != 0.0 else k[x]
            weights[xx * ksize + x] = int(-0.5 + v * 4194304) if v < 0 else int(0.5 + v * 4194304)
        first.append(xmin)
        count.append(xmax)
    out.extend(first); out.extend(count); out.extend(weights)
open(out_path, 'wb').write(out.tobytes())
`;

describe('pilResizeCoefficients equals Pillow\'s arithmetic (glibc sin) on many size pairs', () => {
  /** Size pairs: mosaic tiles (-> <= 100), thumbnails, upscales, and random ones. */
  function pairs(seed: number, count: number): [number, number][] {
    const random = createRandom(seed);
    const list: [number, number][] = [[425, 100], [512, 100], [640, 100], [640, 66], [427, 66], [1411, 100], [425, 128], [425, 64], [425, 32]];
    while (list.length < count) {
      const inSize = 1 + Math.floor(random.next() ** 2 * 1500);
      const outSize = 1 + Math.floor(random.next() * (random.next() < 0.8 ? 128 : 600));
      list.push([inSize, outSize]);
    }
    return list;
  }

  for (const [filter, count] of [['lanczos', 700], ['hamming', 500], ['bicubic', 200], ['box', 200], ['bilinear', 100]] as const) {
    it(`${filter}: ${count} size pairs, every integer weight`, () => {
      const list = pairs(PIL_FILTERS.indexOf(filter) + 10, count);
      const path = join(work, `coeffs-${filter}.bin`);
      runPython(COEFFS_REPLICA, [path, filter, ...list.flatMap(([a, b]) => [String(a), String(b)])]);
      const bytes = readFileSync(path);
      const expected = new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
      let offset = 0;
      let weightsCompared = 0;
      const mismatches: string[] = [];
      for (const [inSize, outSize] of list) {
        const c = pilResizeCoefficients(inSize, outSize, filter);
        const parts = [c.first, c.count, c.weights];
        for (const part of parts) {
          const reference = expected.subarray(offset, offset + part.length);
          offset += part.length;
          if (countDiffering(new Uint8Array(part.buffer), new Uint8Array(reference.slice().buffer)).count !== 0) {
            mismatches.push(`${inSize}->${outSize}`);
          }
        }
        weightsCompared += c.weights.length;
      }
      expect(offset, 'replica output length').toBe(expected.length);
      console.log(`${filter}: ${list.length} size pairs, ${weightsCompared} weights, ${mismatches.length} differ`);
      expect(mismatches, `${filter} weights differ from Pillow's arithmetic`).toEqual([]);
    });
  }
});
