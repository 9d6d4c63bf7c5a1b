#!/usr/bin/env node
// Maps: Strata vs the notebook's PIL recipe for the 4000 x 3000 t-SNE mosaic, measured in the
// same run on the same HDF5 brick and coordinates (and checked pixel-identical), then the
// atlas build rate and the grid layout time at NSD scale.
//
//   node bench/mosaic/run.mjs [--sizes 200,1000] [--atlas 1000] [--grid 73000] [--workers N]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { createRandom, encodeNpy } from '@strata/core';
import { buildAtlas, defaultGridShape, gridLayout, gridLayoutCost, renderMosaic, writeMosaicPng } from '@strata/core/mosaic';
import { limitSource, openImageSource, renderDemoImage, writeImageBrick } from '@strata/core/sources';

const root = resolve(import.meta.dirname, '../..');
const python = process.env.STRATA_REFERENCE_PYTHON ?? '/usr/bin/python3';
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '200,1000' },
    atlas: { type: 'string', default: '1000' },
    grid: { type: 'string', default: '73000' },
    workers: { type: 'string' },
  },
});
const sizes = values.sizes.split(',').map(Number);
// Resize threads for Strata (default: one per core, at most 8); the recipe has one thread.
const workers = values.workers === undefined ? {} : { workers: Number(values.workers) };
const largest = Math.max(...sizes, Number(values.atlas));
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-mosaic-'));

/** Clustered float32 map coordinates, interleaved, like a t-SNE of a few categories. */
function clusteredMap(n, seed) {
  const random = createRandom(seed);
  const centres = Array.from({ length: 12 }, () => [random.normal() * 30, random.normal() * 30, 1 + random.next() * 6]);
  const out = new Float32Array(2 * n);
  for (let i = 0; i < n; i++) {
    const [cx, cy, s] = centres[Math.floor(random.next() * centres.length)];
    out[2 * i] = cx + random.normal() * s;
    out[2 * i + 1] = cy + random.normal() * s;
  }
  return out;
}

// 200 distinct demo scenes, repeated: every image is still read, resized and pasted.
const distinct = [];
for (let i = 0; i < Math.min(200, largest); i++) distinct.push(await renderDemoImage(i, 0));
const brick = join(dir, 'stimuli.h5');
await writeImageBrick(brick, 425, 425, (function* () { for (let i = 0; i < largest; i++) yield distinct[i % distinct.length]; })());

async function strataMosaic(n, out) {
  const coords = clusteredMap(n, n);
  const started = performance.now();
  const source = limitSource(await openImageSource(brick), n);
  const result = await renderMosaic(source, coords, n, workers);
  await writeMosaicPng(result.image, out);
  await source.close();
  return (performance.now() - started) / 1000;
}

function recipeMosaic(n, coordsPath, out) {
  // The recipe zips images with coordinates, so it draws the first n images of the brick.
  const printed = execFileSync(python, [join(root, 'packages/core/test/reference/recipe_mosaic.py'), '--images', brick, '--coords', coordsPath, '--out', out], { encoding: 'utf8' });
  return JSON.parse(printed).seconds;
}

async function samePixels(a, b) {
  const [x, y] = await Promise.all([a, b].map((file) => sharp(file).ensureAlpha().raw().toBuffer()));
  return x.equals(y);
}

console.log(
  `HDF5 brick of 425 x 425 images, 4000 x 3000 canvas, tile 100, ${cpus().length} cores, Strata resize workers: ` +
    `${values.workers ?? 'default'} (shared machines: compare ratios)`,
);
console.log('    N   strata s  recipe s  ratio  identical');
for (const [k, n] of [50, ...sizes].entries()) {
  const coordsPath = join(dir, `coords-${n}.npy`);
  writeFileSync(coordsPath, encodeNpy(clusteredMap(n, n), [n, 2]));
  const strataOut = join(dir, `strata-${n}.png`);
  const recipeOut = join(dir, `recipe-${n}.png`);
  const strata = await strataMosaic(n, strataOut);
  const recipe = recipeMosaic(n, coordsPath, recipeOut);
  if (k === 0) continue; // warm-up of both sides (JIT, page cache), not reported
  const identical = (await samePixels(strataOut, recipeOut)) ? 'yes' : 'NO';
  console.log(`${String(n).padStart(5)}  ${strata.toFixed(2).padStart(8)}  ${recipe.toFixed(2).padStart(8)}  ${(recipe / strata).toFixed(2).padStart(4)}x  ${identical}`);
}

const atlasCount = Number(values.atlas);
if (atlasCount > 0) {
  const source = limitSource(await openImageSource(brick), atlasCount);
  const summary = await buildAtlas(source, join(dir, 'atlas'), workers);
  await source.close();
  const rate = summary.images / (summary.elapsedMs / 1000);
  console.log(
    `atlas: ${summary.images} images -> ${summary.sheets.length} WebP sheets (32/64/128 px, 2048 px sheets) in ${(summary.elapsedMs / 1000).toFixed(1)} s, ` +
      `${rate.toFixed(0)} images/s (73,000 images: ~${(73_000 / rate / 60).toFixed(0)} min at this rate); peak RSS of this process ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`,
  );
}

const gridCount = Number(values.grid);
if (gridCount > 0) {
  const coords = clusteredMap(gridCount, 7);
  const shape = defaultGridShape(gridCount);
  const started = performance.now();
  const cells = gridLayout(coords, gridCount, shape);
  const seconds = (performance.now() - started) / 1000;
  const cost = gridLayoutCost(coords, gridCount, cells, shape);
  console.log(`grid: ${gridCount} points on ${shape.cols} x ${shape.rows} in ${seconds.toFixed(1)} s (defaults: blocks of 256 cells, 2 refinement passes), mean squared displacement ${(cost / gridCount).toFixed(1)} cells^2`);
}
rmSync(dir, { recursive: true, force: true });
