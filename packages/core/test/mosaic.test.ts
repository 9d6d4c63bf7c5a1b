/**
 * The t-SNE mosaic against the notebook recipe run by Debian's numpy 1.24 and Pillow 9.4
 * (test/reference/recipe_mosaic.py): the PNGs must decode to identical RGBA pixels, on real
 * photos (skimage's, RGB and greyscale, 10 px to 1411 px) and on an NSD-style HDF5 brick. The
 * arithmetic (float32 normalisation, int() truncation, tile sizes) and PIL's paste are also
 * checked on their own, over far more cases than whole pictures can cover.
 */
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import { pilResize } from '../src/image/pil-resize.js';
import type { RawImage } from '../src/image/raw-image.js';
import { createCanvas, pasteTile } from '../src/mosaic/canvas.js';
import { readCoordinates, readImageRows } from '../src/mosaic/coords.js';
import { recipePositions, recipeTileSize } from '../src/mosaic/layout.js';
import { renderMosaic, writeMosaicPng } from '../src/mosaic/mosaic.js';
import { encodeNpy } from '../src/npy.js';
import { createRandom } from '../src/random.js';
import { renderDemoImage } from '../src/sources/demo-images.js';
import { openImageSource } from '../src/sources/open.js';
import { writeImageBrick } from '../src/sources/write-hdf5.js';
import { runPython, runPythonScript } from './python.js';

const RECIPE = fileURLToPath(new URL('./reference/recipe_mosaic.py', import.meta.url));
const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
/** RGB and L photos of many sizes; block.png (10 x 10) is smaller than a tile and is not resized. */
const PHOTOS = [
  'astronaut.png', 'brick.png', 'block.png', 'bw_text.png', 'camera.png', 'cell.png', 'chelsea.png', 'coffee.png',
  'coins.png', 'color.png', 'hubble_deep_field.jpg', 'microaneurysms.png', 'motorcycle_left.png', 'page.png',
  'retina.jpg', 'rocket.jpg', 'text.png',
];

const work = mkdtempSync(join(tmpdir(), 'strata-mosaic-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A float64 .npy (encodeNpy writes float32 only). */
function encodeNpyFloat64(data: Float64Array, rows: number, columns: number): Uint8Array {
  const dict = `{'descr': '<f8', 'fortran_order': False, 'shape': (${rows}, ${columns}), }`;
  const headerBytes = Math.ceil((10 + dict.length + 1) / 64) * 64;
  const out = new Uint8Array(headerBytes + data.byteLength);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0], 0);
  new DataView(out.buffer).setUint16(8, headerBytes - 10, true);
  out.set(Buffer.from(dict.padEnd(headerBytes - 11, ' ') + '\n', 'latin1'), 10);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), headerBytes);
  return out;
}

/** Clustered map coordinates, so that many tiles overlap and drawing order matters. */
function clusteredCoords(n: number, seed: number, ArrayType: Float32ArrayConstructor | Float64ArrayConstructor): Float32Array | Float64Array {
  const random = createRandom(seed);
  const centres = [[-20, 5], [14, -9], [3, 22]] as const;
  const out = new ArrayType(2 * n);
  for (let i = 0; i < n; i++) {
    const [cx, cy] = centres[i % centres.length] ?? [0, 0];
    out[2 * i] = cx + random.normal() * 4.7;
    out[2 * i + 1] = cy + random.normal() * 3.1;
  }
  return out;
}

/** Writes src/<file> as JavaScript under dir (Node 20 cannot run TypeScript). */
function transpile(srcDir: string, dir: string, file: string): void {
  const { outputText } = ts.transpileModule(readFileSync(join(srcDir, file), 'utf8'), {
    compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
  });
  mkdirSync(dirname(join(dir, file)), { recursive: true });
  writeFileSync(join(dir, file.replace(/\.ts$/, '.js')), outputText);
}

async function decodeRgba(path: string): Promise<{ data: Uint8Array; width: number; height: number }> {
  const { data, info } = await sharp(path).ensureAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height };
}

async function expectSamePng(actualPath: string, expectedPath: string): Promise<void> {
  const [actual, expected] = await Promise.all([decodeRgba(actualPath), decodeRgba(expectedPath)]);
  expect([actual.width, actual.height]).toEqual([expected.width, expected.height]);
  let differing = 0;
  let first = -1;
  let opaque = 0;
  for (let i = 0; i < actual.data.length; i += 4) {
    if ((expected.data[i + 3] ?? 0) === 255) opaque++;
    for (let c = 0; c < 4; c++) {
      if (actual.data[i + c] !== expected.data[i + c]) {
        differing++;
        if (first < 0) first = i / 4;
      }
    }
  }
  // A blank canvas would match trivially; make sure the picture has real content.
  expect(opaque, 'opaque pixels in the reference map').toBeGreaterThan(1000);
  const where = first < 0 ? '' : `, first at (${first % actual.width}, ${Math.floor(first / actual.width)})`;
  expect(differing, `${differing} bytes differ from the recipe's PNG${where}`).toBe(0);
}

interface RunOptions {
  readonly width: number;
  readonly height: number;
  readonly tile: number;
}

/** Runs the recipe and Strata on the same inputs and compares their PNGs. */
async function compareWithRecipe(images: string, coordsPath: string, label: string, sizes: RunOptions): Promise<void> {
  const expected = join(work, `${label}-pil.png`);
  const actual = join(work, `${label}-strata.png`);
  const args = ['--images', images, '--coords', coordsPath, '--out', expected];
  args.push('--width', String(sizes.width), '--height', String(sizes.height), '--tile', String(sizes.tile));
  const report = JSON.parse(runPythonScript(RECIPE, args)) as { count: number };
  const coords = readCoordinates(coordsPath);
  const source = await openImageSource(images);
  try {
    const result = await renderMosaic(source, coords.data, coords.n, sizes);
    expect(result.failures).toEqual([]);
    expect(result.placed).toBe(report.count);
    await writeMosaicPng(result.image, actual);
  } finally {
    await source.close();
  }
  await expectSamePng(actual, expected);
}

describe('mosaic arithmetic equals numpy 1.24 and Python', () => {
  /** int((width - max_dim) * x) over normalised float32/float64 columns, by numpy. */
  const POSITIONS = `
import numpy as np, sys
tsne = np.load(sys.argv[1]); width, height, max_dim = int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])
tx, ty = tsne[:, 0], tsne[:, 1]
tx = (tx - np.min(tx)) / (np.max(tx) - np.min(tx))
ty = (ty - np.min(ty)) / (np.max(ty) - np.min(ty))
legacy = [v for x, y in zip(tx, ty) for v in (int((width - max_dim) * x), int((height - max_dim) * y))]
# NumPy 2 (NEP 50) keeps python-int * float32 in float32; np.float32 * np.float32 does that in 1.24.
weak = [v for x, y in zip(tx, ty) for v in (int(tx.dtype.type(width - max_dim) * x), int(ty.dtype.type(height - max_dim) * y))]
np.array(legacy, dtype=np.int32).tofile(sys.argv[1] + '.legacy')
np.array(weak, dtype=np.int32).tofile(sys.argv[1] + '.weak')
`;

  function checkPositions(coords: Float32Array | Float64Array, n: number, label: string, width: number, height: number, tile: number): void {
    const path = join(work, `${label}.npy`);
    writeFileSync(path, coords instanceof Float32Array ? encodeNpy(coords, [n, 2]) : encodeNpyFloat64(coords, n, 2));
    runPython(POSITIONS, [path, String(width), String(height), String(tile)]);
    const read = (suffix: string): Int32Array => {
      const bytes = readFileSync(`${path}.${suffix}`);
      return new Int32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
    };
    const loaded = readCoordinates(path);
    expect(loaded.dtype).toBe(coords instanceof Float32Array ? 'float32' : 'float64');
    const legacy = recipePositions(loaded.data, n, { width, height, tile });
    const weak = recipePositions(loaded.data, n, { width, height, tile, productPrecision: 'float32' });
    const differing = (a: Int32Array, b: Int32Array): number => a.reduce((count, v, i) => count + (v === b[i] ? 0 : 1), 0);
    expect(differing(legacy, read('legacy')), `${label}: positions differing from numpy 1.24`).toBe(0);
    expect(differing(weak, read('weak')), `${label}: positions differing from NEP 50 float32 products`).toBe(0);
  }

  it('float32 coordinates: normalisation in float32, products in float64, truncation', () => {
    // Values at k / 3900 and k / 2900 put products right at integers, where float32 vs float64
    // arithmetic and truncation decide; random clusters cover the rest.
    const n = 60_000;
    const coords = new Float32Array(2 * n);
    const random = createRandom(5);
    for (let i = 0; i < n; i++) {
      if (i < 8000) {
        coords[2 * i] = (i % 3901) / 3900;
        coords[2 * i + 1] = (i % 2901) / 2900;
      } else {
        coords[2 * i] = random.normal() * 31.7 - 4;
        coords[2 * i + 1] = random.normal() * 0.013 + 1e3;
      }
    }
    checkPositions(coords, n, 'f32-edges', 4000, 3000, 100);
    checkPositions(clusteredCoords(20_000, 6, Float32Array), 20_000, 'f32-clusters', 4000, 3000, 100);
    checkPositions(clusteredCoords(5_000, 7, Float32Array), 5_000, 'f32-odd', 1234, 777, 64);
    // A tile larger than the canvas makes (width - max_dim) negative: truncation toward zero.
    checkPositions(clusteredCoords(1_000, 8, Float32Array), 1_000, 'f32-negative', 90, 3000, 100);
  });

  it('float64 coordinates stay in float64', () => {
    checkPositions(clusteredCoords(20_000, 9, Float64Array), 20_000, 'f64-clusters', 4000, 3000, 100);
  });

  it('tile sizes: rs = max(1, w / t, h / t), then int(w / rs), as Python computes them', () => {
    const cases: number[] = [];
    for (let w = 1; w <= 1500; w += 7) for (let h = 1; h <= 1500; h += 11) for (const t of [100, 64, 37]) cases.push(w, h, t);
    const expected = JSON.parse(
      runPython(
        `import json, sys
c = json.load(sys.stdin)
out = []
for i in range(0, len(c), 3):
    w, h, t = c[i:i + 3]
    rs = max(1, w / t, h / t)
    out += [int(w / rs), int(h / rs)]
print(json.dumps(out))`,
        [],
        JSON.stringify(cases),
      ),
    ) as number[];
    const actual: number[] = [];
    let empty = 0;
    for (let i = 0; i < cases.length; i += 3) {
      const [w, h, t] = [cases[i] ?? 0, cases[i + 1] ?? 0, cases[i + 2] ?? 0];
      if (expected[(2 * i) / 3] === 0 || expected[(2 * i) / 3 + 1] === 0) {
        // PIL refuses to resize to 0 pixels; so do we, before reading any image.
        expect(() => recipeTileSize(w, h, t)).toThrow(/PIL cannot resize to an empty image/);
        actual.push(expected[(2 * i) / 3] ?? -1, expected[(2 * i) / 3 + 1] ?? -1);
        empty++;
        continue;
      }
      const size = recipeTileSize(w, h, t);
      actual.push(size.width, size.height);
    }
    expect(actual).toEqual(expected);
    expect(empty).toBeGreaterThan(0);
    // 109 / (109 / 100) is 99.99999999999999 in doubles: the recipe's tile is 99 wide, not 100.
    expect(recipeTileSize(109, 109, 100)).toEqual({ width: 99, height: 99 });
    expect(recipeTileSize(512, 512, 100)).toEqual({ width: 100, height: 100 });
  });

  it('pasteTile equals PIL paste with mask=tile.convert("RGBA") for RGB, L and RGBA tiles, clipped', () => {
    const random = createRandom(11);
    const bytes = (length: number): Uint8Array => Uint8Array.from({ length }, () => Math.floor(random.next() * 256));
    const canvas: RawImage = { data: bytes(37 * 23 * 4), width: 37, height: 23, channels: 4 };
    const tiles: [RawImage, number, number][] = [
      [{ data: bytes(10 * 7 * 3), width: 10, height: 7, channels: 3 }, 3, 4],
      [{ data: bytes(9 * 30 * 1), width: 9, height: 30, channels: 1 }, 30, -5],
      [{ data: bytes(20 * 12 * 4), width: 20, height: 12, channels: 4 }, -6, 15],
      [{ data: bytes(50 * 40 * 4), width: 50, height: 40, channels: 4 }, -3, -2],
    ];
    const modes = { 1: 'L', 3: 'RGB', 4: 'RGBA' } as const;
    const dir = join(work, 'paste');
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, 'canvas.raw'), canvas.data);
    const spec = tiles.map(([tile, x, y], i) => {
      writeFileSync(join(dir, `tile${i}.raw`), tile.data);
      return [modes[tile.channels as 1 | 3 | 4], tile.width, tile.height, x, y];
    });
    runPython(
      `import json, sys
from PIL import Image
d, spec = sys.argv[1], json.loads(sys.argv[2])
canvas = Image.frombytes('RGBA', (37, 23), open(d + '/canvas.raw', 'rb').read())
for i, (mode, w, h, x, y) in enumerate(spec):
    tile = Image.frombytes(mode, (w, h), open(f'{d}/tile{i}.raw', 'rb').read())
    canvas.paste(tile, (x, y), mask=tile.convert('RGBA'))
open(d + '/out.raw', 'wb').write(canvas.tobytes())`,
      [dir, JSON.stringify(spec)],
    );
    for (const [tile, x, y] of tiles) pasteTile(canvas, tile, x, y);
    expect(Buffer.from(canvas.data).equals(readFileSync(join(dir, 'out.raw')))).toBe(true);
  });
});

describe('renderMosaic reproduces the recipe pixel for pixel', () => {
  let photos: string;
  let brick: string;
  const BRICK_IMAGES = 40;

  beforeAll(async () => {
    photos = join(work, 'photos');
    mkdirSync(join(photos, 'sub'), { recursive: true });
    PHOTOS.forEach((name, i) => copyFileSync(join(SKIMAGE, name), join(photos, i % 3 === 0 ? `sub/${name}` : name)));
    brick = join(work, 'brick.h5');
    const images: RawImage[] = [];
    for (let i = 0; i < BRICK_IMAGES; i++) images.push(await renderDemoImage(i, 3));
    await writeImageBrick(brick, 425, 425, images);
  });

  it('real photos (RGB and greyscale, 10 to 1411 px), float32 coordinates, 4000 x 3000', async () => {
    const coords = clusteredCoords(PHOTOS.length, 12, Float32Array) as Float32Array;
    const path = join(work, 'photos-coords.npy');
    writeFileSync(path, encodeNpy(coords, [PHOTOS.length, 2]));
    await compareWithRecipe(photos, path, 'photos', { width: 4000, height: 3000, tile: 100 });
  });

  it('an NSD-style HDF5 brick (425 x 425 images), float32 and float64 coordinates, other sizes', async () => {
    const f32 = join(work, 'brick-f32.npy');
    writeFileSync(f32, encodeNpy(clusteredCoords(BRICK_IMAGES, 13, Float32Array) as Float32Array, [BRICK_IMAGES, 2]));
    await compareWithRecipe(brick, f32, 'brick-f32', { width: 1600, height: 1200, tile: 100 });
    const f64 = join(work, 'brick-f64.npy');
    writeFileSync(f64, encodeNpyFloat64(clusteredCoords(BRICK_IMAGES, 14, Float64Array) as Float64Array, BRICK_IMAGES, 2));
    await compareWithRecipe(brick, f64, 'brick-f64', { width: 999, height: 701, tile: 73 });
  });

  it('grid mode: one image per cell, centred, no overlap', async () => {
    const source = await openImageSource(brick);
    try {
      const coords = clusteredCoords(BRICK_IMAGES, 15, Float32Array);
      const result = await renderMosaic(source, coords, BRICK_IMAGES, { grid: { cols: 8 }, tile: 50 });
      expect(result.grid?.cols).toBe(8);
      expect(result.grid?.rows).toBe(5);
      expect([result.image.width, result.image.height]).toEqual([400, 250]);
      const cells = result.grid?.cells ?? new Int32Array();
      expect(new Set(cells).size).toBe(BRICK_IMAGES);
      // Each cell holds exactly its image's 50 x 50 LANCZOS tile.
      const batch = await source.readBatch(0, BRICK_IMAGES);
      for (const item of batch) {
        if (!item.ok) throw item.error;
        const tile = pilResize(item.image, { width: 50, height: 50 }, { filter: 'lanczos' });
        const cell = cells[item.index] ?? 0;
        const x0 = (cell % 8) * 50;
        const y0 = Math.floor(cell / 8) * 50;
        for (let y = 0; y < 50; y++) {
          for (let x = 0; x < 50; x++) {
            const o = ((y0 + y) * 400 + x0 + x) * 4;
            const p = (y * 50 + x) * 3;
            const same = result.image.data[o] === tile.data[p] && result.image.data[o + 1] === tile.data[p + 1] && result.image.data[o + 2] === tile.data[p + 2];
            if (!same) throw new Error(`image ${item.index}: pixel (${x}, ${y}) of its cell differs from its tile`);
          }
        }
      }
    } finally {
      await source.close();
    }
  });

  it('worker threads give the same mosaic and atlas as the calling thread', async () => {
    // Workers need compiled JavaScript (resize-worker.js), so this runs in a child process
    // on a transpiled copy of the sources, as the CLI runs the built package.
    const dir = join(work, 'workers');
    const coreSrc = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
    for (const folder of ['mosaic', 'image', 'sources']) {
      for (const file of readdirSync(join(coreSrc, folder)).filter((name) => name.endsWith('.ts'))) transpile(coreSrc, dir, `${folder}/${file}`);
    }
    for (const file of ['random.ts', 'npy.ts']) transpile(coreSrc, dir, file);
    writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
    mkdirSync(join(dir, 'node_modules'));
    for (const name of ['h5wasm', 'sharp']) {
      const found = [join(coreSrc, '..', 'node_modules', name), join(coreSrc, '..', '..', '..', 'node_modules', name)].find((path) => existsSync(path));
      if (found === undefined) throw new Error(`${name} not found in node_modules`);
      symlinkSync(found, join(dir, 'node_modules', name), 'dir');
    }
    writeFileSync(
      join(dir, 'child.mjs'),
      `import { createHash } from 'node:crypto';
import { readFileSync, readdirSync } from 'node:fs';
import { renderMosaic } from './mosaic/mosaic.js';
import { buildAtlas } from './mosaic/atlas.js';
import { openImageSource } from './sources/open.js';
import { createResizePool } from './mosaic/resize-pool.js';
const [brick, coordsJson, out] = process.argv.slice(2);
const coords = Float32Array.from(JSON.parse(coordsJson));
const hash = (bytes) => createHash('sha256').update(bytes).digest('hex');
const report = {};
for (const workers of [0, 3]) {
  const source = await openImageSource(brick);
  const result = await renderMosaic(source, coords, coords.length / 2, { width: 1200, height: 900, workers });
  const atlasDir = out + '/atlas-' + workers;
  await buildAtlas(source, atlasDir, { format: 'png', sheetSize: 512, workers });
  await source.close();
  const files = readdirSync(atlasDir).sort();
  report[workers] = { mosaic: hash(result.image.data), atlas: files.map((f) => f + ':' + hash(readFileSync(atlasDir + '/' + f))) };
}
const probe = createResizePool({ workers: 3, filter: 'lanczos' });
report.poolWorkers = probe.workers;
await probe.close();
console.log(JSON.stringify(report));
`,
    );
    const coords = clusteredCoords(BRICK_IMAGES, 16, Float32Array);
    const report = JSON.parse(
      execFileSync(process.execPath, [join(dir, 'child.mjs'), brick, JSON.stringify(Array.from(coords)), dir], { cwd: dir, encoding: 'utf8' }),
    ) as Record<string, { mosaic: string; atlas: string[] }> & { poolWorkers: number };
    expect(report.poolWorkers, 'the child found resize-worker.js and started workers').toBe(3);
    expect(report['3']).toEqual(report['0']);
    // And both equal the mosaic made here, in the test process, from the TypeScript sources.
    const source = await openImageSource(brick);
    try {
      const here = await renderMosaic(source, coords, BRICK_IMAGES, { width: 1200, height: 900 });
      expect(report['0']?.mosaic).toBe(createHash('sha256').update(here.image.data).digest('hex'));
    } finally {
      await source.close();
    }
  });

  it('refuses a coordinate count that does not match the images', async () => {
    const source = await openImageSource(brick);
    try {
      await expect(renderMosaic(source, new Float32Array(6), 3)).rejects.toThrow(/3 coordinate rows for 40 images/);
    } finally {
      await source.close();
    }
  });

  it('draws rows through the images.json mapping', async () => {
    const source = await openImageSource(brick);
    try {
      const rowsPath = join(work, 'images.json');
      const rows = [0, 1, 2, 5, 6, 9].map((index) => ({ index, id: source.idOf(index) }));
      writeFileSync(rowsPath, JSON.stringify({ rows }));
      const mapping = readImageRows(rowsPath);
      expect(Array.from(mapping.indices)).toEqual([0, 1, 2, 5, 6, 9]);
      const coords = Float32Array.from([0, 0, 1, 0, 0, 1, 1, 1, 0.5, 0.5, 0.25, 0.75]);
      const result = await renderMosaic(source, coords, 6, { width: 300, height: 300, tile: 100, imageIndices: mapping.indices });
      expect(result.placed).toBe(6);
      // Row 3 (image 5) sits in the bottom-right corner (200, 200), not covered by later rows.
      const batch = await source.readBatch(5, 6);
      const item = batch[0];
      if (item === undefined || !item.ok) throw new Error('image 5 unreadable');
      const tile = pilResize(item.image, { width: 100, height: 100 }, { filter: 'lanczos' });
      const o = (250 * 300 + 250) * 4;
      const p = (50 * 100 + 50) * 3;
      expect(Array.from(result.image.data.subarray(o, o + 3))).toEqual(Array.from(tile.data.subarray(p, p + 3)));
    } finally {
      await source.close();
    }
  });
});

describe('mosaic refusals name what was given and what was expected', () => {
  it('refuses NaN and flat coordinates, wrong lengths, canvases over budget, empty tiles', () => {
    expect(() => recipePositions(Float32Array.from([0, 0, Number.NaN, 1]), 2)).toThrow(/coordinate x of point 1 is NaN/);
    expect(() => recipePositions(Float32Array.from([3, 0, 3, 1]), 2)).toThrow(/all 2 x coordinates span \[3, 3\]/);
    expect(() => recipePositions(Float32Array.from([0, 0, 1]), 2)).toThrow(/hold 3 values, expected 2 x 2 = 4/);
    expect(() => createCanvas(40_000, 30_000)).toThrow(/canvas 40000x30000 is 1200000000 pixels \(4578 MiB RGBA\), over the budget of 250000000 pixels/);
    expect(() => recipeTileSize(1000, 1, 100)).toThrow(/an image of 1000x1 becomes a 100x0 tile/);
  });
});
