/**
 * Texture atlases: the index is consistent (each image once per size, inside its cell, no two
 * cells shared), a thumbnail cut out of a sheet equals Pillow's LANCZOS resize of the image,
 * unreadable images are listed rather than fatal, and peak memory stays flat as the image
 * count grows (measured in a fresh Node process, where RSS counts sheets and WebAssembly).
 */
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import sharp from 'sharp';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';

import type { RawImage } from '../src/image/raw-image.js';
import { buildAtlas, thumbnailSize, type AtlasIndex } from '../src/mosaic/atlas.js';
import { renderDemoImage } from '../src/sources/demo-images.js';
import { openImageSource } from '../src/sources/open.js';
import { writeImageBrick } from '../src/sources/write-hdf5.js';
import { runPython } from './python.js';

const SKIMAGE = '/usr/lib/python3/dist-packages/skimage/data';
const PHOTOS = ['astronaut.png', 'camera.png', 'chelsea.png', 'rocket.jpg', 'text.png', 'block.png', 'hubble_deep_field.jpg'];
const coreDir = join(dirname(fileURLToPath(import.meta.url)), '..');

const work = mkdtempSync(join(tmpdir(), 'strata-atlas-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

let brick: string;
let photos: string;
const BRICK_IMAGES = 37;

beforeAll(async () => {
  brick = join(work, 'brick.h5');
  const images: RawImage[] = [];
  for (let i = 0; i < BRICK_IMAGES; i++) images.push(await renderDemoImage(i, 5));
  await writeImageBrick(brick, 425, 425, images);
  photos = join(work, 'photos');
  mkdirSync(photos);
  for (const name of PHOTOS) copyFileSync(join(SKIMAGE, name), join(photos, name));
  copyFileSync(join(SKIMAGE, 'truncated.jpg'), join(photos, 'truncated.jpg'));
});

function readIndex(dir: string): AtlasIndex {
  return JSON.parse(readFileSync(join(dir, 'atlas.json'), 'utf8')) as AtlasIndex;
}

/** Every image once per size, each rectangle inside its own cell inside its sheet. */
async function expectConsistent(dir: string, index: AtlasIndex, expectedImages: number): Promise<void> {
  expect(index.images.length).toBe(expectedImages);
  expect(new Set(index.images.map((image) => image.index)).size).toBe(expectedImages);
  const cellsTaken = new Set<string>();
  const perSheet = new Map<number, number>();
  for (const image of index.images) {
    expect(image.tiles.length).toBe(index.tileSizes.length);
    image.tiles.forEach((tile, s) => {
      const size = index.tileSizes[s] ?? 0;
      const sheet = index.sheets[tile.sheet];
      if (sheet === undefined) throw new Error(`image ${image.index}: sheet ${tile.sheet} not in the index`);
      expect(sheet.size, `image ${image.index} size ${size} is in a sheet of size ${sheet.size}`).toBe(size);
      expect(tile.x >= 0 && tile.y >= 0 && tile.x + tile.w <= sheet.width && tile.y + tile.h <= sheet.height).toBe(true);
      expect(Math.max(tile.w, tile.h)).toBe(size);
      // The rectangle lies in one cell, centred.
      const cx = Math.floor(tile.x / size);
      const cy = Math.floor(tile.y / size);
      expect(tile.x + tile.w <= (cx + 1) * size && tile.y + tile.h <= (cy + 1) * size).toBe(true);
      expect(tile.x - cx * size).toBe((size - tile.w) >> 1);
      const key = `${tile.sheet}:${cx}:${cy}`;
      expect(cellsTaken.has(key), `cell ${key} used twice`).toBe(false);
      cellsTaken.add(key);
      perSheet.set(tile.sheet, (perSheet.get(tile.sheet) ?? 0) + 1);
    });
  }
  for (const [number, sheet] of index.sheets.entries()) {
    expect(perSheet.get(number), `${sheet.file} count`).toBe(sheet.count);
    const meta = await sharp(join(dir, sheet.file)).metadata();
    expect([meta.width, meta.height, meta.format]).toEqual([sheet.width, sheet.height, index.imageFormat]);
    // libwebp drops the alpha plane of a sheet that is opaque throughout; PNG keeps RGBA.
    expect(index.imageFormat === 'png' ? [4] : [3, 4]).toContain(meta.channels);
  }
}

/** The RGBA pixels of one thumbnail's rectangle, cut out of its sheet. */
async function cutOut(dir: string, index: AtlasIndex, imageIndex: number, sizeIndex: number): Promise<{ rgba: Buffer; w: number; h: number }> {
  const image = index.images.find((entry) => entry.index === imageIndex);
  const tile = image?.tiles[sizeIndex];
  const sheet = tile === undefined ? undefined : index.sheets[tile.sheet];
  if (tile === undefined || sheet === undefined) throw new Error(`image ${imageIndex} not in the atlas`);
  const rgba = await sharp(join(dir, sheet.file)).ensureAlpha().extract({ left: tile.x, top: tile.y, width: tile.w, height: tile.h }).raw().toBuffer();
  return { rgba, w: tile.w, h: tile.h };
}

/** PIL's LANCZOS thumbnails, made independently: argv SOURCE KIND then (INDEX W H)*. */
const PIL_THUMBNAILS = `
import os, sys
from PIL import Image
source, kind, out, *spec = sys.argv[1:]
if kind == 'brick':
    import h5py
    brick = h5py.File(source, 'r')['imgBrick']
    load = lambda i: Image.fromarray(brick[i])
else:
    names = sorted(n for n in os.listdir(source) if n != 'truncated.jpg')
    load = lambda i: Image.open(os.path.join(source, names[i])).convert('RGB')
for k in range(0, len(spec), 3):
    i, w, h = int(spec[k]), int(spec[k + 1]), int(spec[k + 2])
    open(f'{out}.{k // 3}.raw', 'wb').write(load(i).resize((w, h), Image.LANCZOS).tobytes())
`;

function pilThumbnails(source: string, kind: 'brick' | 'folder', spec: readonly (readonly [number, number, number])[]): Buffer[] {
  const out = join(work, `pil-${kind}`);
  runPython(PIL_THUMBNAILS, [source, kind, out, ...spec.flatMap(([i, w, h]) => [String(i), String(w), String(h)])]);
  return spec.map((_, k) => readFileSync(`${out}.${k}.raw`));
}

function expectMatchesRgb(cut: { rgba: Buffer; w: number; h: number }, rgb: Buffer | undefined, label: string, tolerance: number): void {
  expect(rgb?.length, label).toBe(cut.w * cut.h * 3);
  let worst = 0;
  let total = 0;
  for (let p = 0; p < cut.w * cut.h; p++) {
    expect(cut.rgba[4 * p + 3], `${label}: alpha inside the thumbnail`).toBe(255);
    for (let c = 0; c < 3; c++) {
      const d = Math.abs((cut.rgba[4 * p + c] ?? 0) - (rgb?.[3 * p + c] ?? 0));
      worst = Math.max(worst, d);
      total += d;
    }
  }
  if (tolerance === 0) expect(worst, `${label}: largest channel difference from PIL`).toBe(0);
  else expect(total / (cut.w * cut.h * 3), `${label}: mean channel difference from PIL`).toBeLessThan(tolerance);
}

describe('buildAtlas', () => {
  it('PNG sheets: consistent index, thumbnails identical to PIL LANCZOS, transparent letterbox', async () => {
    const dir = join(work, 'png');
    const source = await openImageSource(brick);
    const progress: number[] = [];
    try {
      const summary = await buildAtlas(source, dir, { format: 'png', sheetSize: 256, onProgress: (p) => progress.push(p.done) });
      expect(summary.images).toBe(BRICK_IMAGES);
      // 256 / 128 = 2 per row -> 4 per sheet: 10 sheets; 64 px: 16 per sheet -> 3; 32 px: 64 -> 1.
      expect(summary.sheets.map((s) => s.size).sort((a, b) => a - b)).toEqual([32, ...Array(3).fill(64), ...Array(10).fill(128)]);
    } finally {
      await source.close();
    }
    expect(progress.at(-1)).toBe(BRICK_IMAGES);
    const index = readIndex(dir);
    expect(index.tileSizes).toEqual([32, 64, 128]);
    await expectConsistent(dir, index, BRICK_IMAGES);
    // The last 128 px sheet holds 1 image: cut to its one filled row.
    const last = index.sheets.filter((s) => s.size === 128).at(-1);
    expect([last?.count, last?.height]).toEqual([1, 128]);
    const picks = [0, 5, 17, 36];
    const spec = picks.flatMap((i) => [0, 1, 2].map((s) => [i, 32 << s, 32 << s] as const));
    const expected = pilThumbnails(brick, 'brick', spec);
    for (const [k, [i, w]] of spec.entries()) {
      const cut = await cutOut(dir, index, i, Math.log2(w / 32));
      expectMatchesRgb(cut, expected[k], `brick image ${i} at ${w}px`, 0);
    }
  });

  it('photos of any aspect (letterboxed), an unreadable file listed, lossy and lossless WebP', async () => {
    const source = await openImageSource(photos);
    try {
      const lossless = join(work, 'webp-lossless');
      const summary = await buildAtlas(source, lossless, { sizes: [48, 100], sheetSize: 512, lossless: true });
      expect([summary.images, summary.failures]).toEqual([PHOTOS.length, 1]);
      const index = readIndex(lossless);
      expect(index.failures).toEqual([expect.objectContaining({ id: 'truncated.jpg' })]);
      await expectConsistent(lossless, index, PHOTOS.length);
      const lossy = join(work, 'webp-lossy');
      await buildAtlas(source, lossy, { sizes: [48, 100], sheetSize: 512, quality: 90 });
      const lossyIndex = readIndex(lossy);
      await expectConsistent(lossy, lossyIndex, PHOTOS.length);

      // The Python side lists the photos sorted, without the truncated one.
      const names = [...PHOTOS].sort();
      const spec: [number, number, number][] = [];
      for (const image of index.images) {
        for (const tile of image.tiles) spec.push([names.indexOf(image.id), tile.w, tile.h]);
      }
      const expected = pilThumbnails(photos, 'folder', spec);
      let k = 0;
      for (const image of index.images) {
        for (let s = 0; s < 2; s++) {
          expectMatchesRgb(await cutOut(lossless, index, image.index, s), expected[k], `${image.id} lossless`, 0);
          // Lossy WebP at quality 90 with 4:2:0 chroma: close, not equal (a wrong image is ~50 off).
          expectMatchesRgb(await cutOut(lossy, lossyIndex, image.index, s), expected[k], `${image.id} lossy`, 8);
          k++;
        }
      }
      // chelsea.png is 451 x 300: 100 x 67 in its cell, 16 transparent rows above and below.
      const chelsea = index.images.find((image) => image.id === 'chelsea.png');
      expect(chelsea?.tiles[1]).toMatchObject({ w: 100, h: 67 });
      expect(thumbnailSize(451, 300, 100)).toEqual({ width: 100, height: 67 });
    } finally {
      await source.close();
    }
  });

  it('refuses bad options, naming them', async () => {
    const source = await openImageSource(brick);
    try {
      await expect(buildAtlas(source, join(work, 'x'), { sizes: [32, 4096] })).rejects.toThrow(/integers in \[1, sheetSize = 2048\], got 4096/);
      await expect(buildAtlas(source, join(work, 'x'), { sizes: [32, 32] })).rejects.toThrow(/distinct, got \[32, 32\]/);
      await expect(buildAtlas(source, join(work, 'x'), { sheetSize: 20_000 })).rejects.toThrow(/sheetSize must be an integer in \[1, 16383\], got 20000/);
      await expect(buildAtlas(source, join(work, 'x'), { format: 'jpeg' as 'png' })).rejects.toThrow(/format must be 'webp' or 'png', got 'jpeg'/);
    } finally {
      await source.close();
    }
  });
});

/** Child process: builds the atlas, sampling RSS as it goes. */
const CHILD = `
import { buildAtlas } from './mosaic/atlas.js';
import { openHdf5Source } from './sources/hdf5.js';
const [brick, out] = process.argv.slice(2);
const source = await openHdf5Source(brick);
const samples = [];
const started = performance.now();
const summary = await buildAtlas(source, out, {
  onProgress: (p) => { if (p.done % 500 === 0) samples.push([p.done, process.memoryUsage().rss]); },
});
await source.close();
console.log(JSON.stringify({ images: summary.images, sheets: summary.sheets.length, seconds: (performance.now() - started) / 1000, samples, maxRssBytes: process.resourceUsage().maxRSS * 1024 }));
`;

function buildChild(dir: string): string {
  // resize-worker.js next to resize-pool.js: the child resizes on worker threads, as the CLI does.
  const files = ['mosaic/atlas.ts', 'mosaic/stream.ts', 'mosaic/canvas.ts', 'mosaic/resize-pool.ts', 'mosaic/resize-worker.ts', 'image/pil-resize.ts', 'image/raw-image.ts', 'sources/hdf5.ts', 'sources/types.ts'];
  for (const file of files) {
    const { outputText } = ts.transpileModule(readFileSync(join(coreDir, 'src', file), 'utf8'), {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file.replace(/\.ts$/, '.js')), outputText);
  }
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  mkdirSync(join(dir, 'node_modules'));
  for (const name of ['h5wasm', 'sharp', '@img']) {
    const found = [join(coreDir, 'node_modules', name), join(coreDir, '..', '..', 'node_modules', name)].find((path) => existsSync(path));
    if (found === undefined) throw new Error(`${name} not found in node_modules above ${coreDir}`);
    symlinkSync(found, join(dir, 'node_modules', name), 'dir');
  }
  writeFileSync(join(dir, 'child.mjs'), CHILD);
  return join(dir, 'child.mjs');
}

describe('buildAtlas memory', () => {
  it('keeps peak RSS flat while streaming 4,000 images into 21 sheets', () => {
    const n = 4000;
    const side = 96;
    const dir = join(work, 'memory');
    mkdirSync(dir);
    const big = join(dir, 'brick.h5');
    // Smooth random images (noise would make WebP encoding, not memory, the subject).
    runPython(
      `import h5py, numpy as np, sys
n, side = int(sys.argv[2]), int(sys.argv[3])
rng = np.random.default_rng(1)
yy, xx = np.mgrid[0:side, 0:side]
with h5py.File(sys.argv[1], 'w') as f:
    ds = f.create_dataset('imgBrick', (n, side, side, 3), dtype=np.uint8, chunks=(1, side, side, 3))
    for start in range(0, n, 500):
        block = np.empty((min(500, n - start), side, side, 3), dtype=np.uint8)
        for i in range(block.shape[0]):
            a, b, c = rng.random(3) * 0.2
            block[i] = ((np.sin(xx * a + start + i)[..., None] * [90, 60, 30] + np.cos(yy * b)[..., None] * [30, 60, 90] + 128 + c)).astype(np.uint8)
        ds[start:start + block.shape[0]] = block`,
      [big, String(n), String(side)],
    );
    const child = buildChild(join(dir, 'child'));
    const out = join(dir, 'atlas');
    const report = JSON.parse(execFileSync(process.execPath, [child, big, out], { cwd: dirname(child), encoding: 'utf8' })) as {
      images: number;
      sheets: number;
      seconds: number;
      samples: [number, number][];
      maxRssBytes: number;
    };
    const mib = (bytes: number): number => Math.round(bytes / 2 ** 20);
    const half = report.samples.find(([done]) => done >= n / 2);
    const end = report.samples.at(-1);
    console.log(
      `atlas of ${report.images} images (${side}px) -> ${report.sheets} sheets in ${report.seconds.toFixed(1)} s ` +
        `(${(report.images / report.seconds).toFixed(0)} images/s); RSS by images done: ` +
        `${report.samples.map(([done, rss]) => `${done}: ${mib(rss)}`).join(', ')} MiB; peak ${mib(report.maxRssBytes)} MiB`,
    );
    expect(report.images).toBe(n);
    // 32 px: 1 sheet (4096 each), 64 px: 4 sheets (1024 each), 128 px: 16 sheets (256 each).
    expect(report.sheets).toBe(1 + 4 + 16);
    // Flat: the second half of the run (11 more sheets) adds allocator slack at most; what
    // really grows with the count is the 60-byte-per-image index.
    expect((end?.[1] ?? 0) - (half?.[1] ?? 0)).toBeLessThan(64 * 2 ** 20);
    // Measured about 410 MiB with two resize workers (each its own V8 heap): 2 sheets per size,
    // one WebP encode in flight, Node, libvips.
    expect(report.maxRssBytes).toBeLessThan(512 * 2 ** 20);
  });
});
