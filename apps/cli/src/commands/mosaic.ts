import type { Command } from 'commander';
import { buildAtlas, readCoordinates, readImageRows, renderMosaic, writeMosaicPng } from '@strata/core/mosaic';
import { limitSource, openImageSource, type ImageSource } from '@strata/core/sources';
import { createProgress } from '../progress.js';
import { parseInteger } from '../parse.js';

interface MosaicCommandOptions {
  images: string;
  dataset: string;
  coords: string;
  rows?: string;
  out: string;
  width: string;
  height: string;
  tile: string;
  grid?: boolean;
  gridCols?: string;
  gridRows?: string;
  maxPixels: string;
  numpy: string;
  workers?: string;
  stopOnError?: boolean;
}

interface AtlasCommandOptions {
  images: string;
  dataset: string;
  out: string;
  limit?: string;
  sizes: string;
  sheetSize: string;
  format: string;
  quality: string;
  lossless?: boolean;
  workers?: string;
  stopOnError?: boolean;
}

export function registerMosaic(program: Command): void {
  program
    .command('mosaic')
    .description('render a t-SNE map as an image mosaic (PNG), pixel for pixel as the classic PIL notebook recipe does')
    .requiredOption('--images <path>', 'an HDF5 file (N x H x W x 3 uint8) or a folder of JPEG/PNG/WebP/TIFF images')
    .option('--dataset <name>', 'HDF5 dataset holding the images', 'imgBrick')
    .requiredOption('--coords <file>', 'map coordinates: .npy of shape (N, 2), float32 or float64')
    .option('--rows <images.json>', "row -> image mapping written by `strata extract` (when it skipped bad images)")
    .requiredOption('--out <file>', 'output PNG')
    .option('--width <px>', 'canvas width', '4000')
    .option('--height <px>', 'canvas height', '3000')
    .option('--tile <px>', 'longest side of each image on the map (max_dim)', '100')
    .option('--grid', 'snap images to a grid, one per cell, neighbours kept near (linear assignment)')
    .option('--grid-cols <n>', 'grid columns (default: from the width/height aspect and N)')
    .option('--grid-rows <n>', 'grid rows (default: ceil(N / columns))')
    .option('--max-pixels <n>', 'refuse canvases larger than this many pixels', '250000000')
    .option('--numpy <major>', "NumPy whose arithmetic to reproduce: 1 (python int * float32 in float64) or 2 (in float32)", '1')
    .option('--workers <n>', 'threads resizing images, 0 for none (default: one per core, at most 8)')
    .option('--stop-on-error', 'stop at the first unreadable image instead of leaving it out')
    .action(async (options: MosaicCommandOptions) => {
      const coords = readCoordinates(options.coords);
      const mapping = options.rows === undefined ? undefined : readImageRows(options.rows);
      if (options.numpy !== '1' && options.numpy !== '2') throw new RangeError(`--numpy must be 1 or 2, got "${options.numpy}"`);
      if (!options.grid && (options.gridCols !== undefined || options.gridRows !== undefined)) {
        throw new RangeError('--grid-cols and --grid-rows need --grid');
      }
      const source = await openImageSource(options.images, { dataset: options.dataset });
      try {
        if (mapping !== undefined) checkRows(source, mapping, options.rows ?? '', coords.n);
        const progress = createProgress('mosaic', coords.n, 'img');
        const started = Date.now();
        const result = await renderMosaic(source, coords.data, coords.n, {
          width: parseInteger(options.width, '--width', { min: 1 }),
          height: parseInteger(options.height, '--height', { min: 1 }),
          tile: parseInteger(options.tile, '--tile', { min: 1 }),
          maxPixels: parseInteger(options.maxPixels, '--max-pixels', { min: 1 }),
          productPrecision: options.numpy === '2' ? 'float32' : 'float64',
          onBadImage: options.stopOnError ? 'stop' : 'skip',
          ...(options.workers === undefined ? {} : { workers: parseInteger(options.workers, '--workers', { min: 0 }) }),
          ...(mapping === undefined ? {} : { imageIndices: mapping.indices }),
          ...(options.grid
            ? {
                grid: {
                  ...(options.gridCols === undefined ? {} : { cols: parseInteger(options.gridCols, '--grid-cols', { min: 1 }) }),
                  ...(options.gridRows === undefined ? {} : { rows: parseInteger(options.gridRows, '--grid-rows', { min: 1 }) }),
                },
              }
            : {}),
          onProgress: (p) => {
            if (p.phase === 'tiles') progress.update(p.done, { rate: p.done / Math.max((Date.now() - started) / 1000, 1e-3) });
          },
        });
        progress.stop();
        for (const failure of result.failures) process.stderr.write(`skipped ${failure.message}\n`);
        await writeMosaicPng(result.image, options.out);
        const grid = result.grid === undefined ? '' : `, ${result.grid.cols} x ${result.grid.rows} grid`;
        console.log(
          `${options.out}: ${result.image.width} x ${result.image.height}, ${result.placed} images${grid} ` +
            `(${coords.dtype} coordinates) in ${((Date.now() - started) / 1000).toFixed(1)} s` +
            (result.failures.length > 0 ? `; ${result.failures.length} unreadable, left out` : ''),
        );
      } finally {
        await source.close();
      }
    });
}

/** The rows must name images of this source by the same ids extraction saw. */
function checkRows(source: ImageSource, mapping: { indices: Int32Array; ids: readonly string[] }, file: string, n: number): void {
  if (mapping.indices.length !== n) {
    throw new RangeError(`${file} maps ${mapping.indices.length} rows, but the coordinates have ${n}`);
  }
  mapping.indices.forEach((index, row) => {
    if (index >= source.size) throw new RangeError(`${file}: row ${row} names image ${index}, but ${source.location} has ${source.size} images`);
    const id = source.idOf(index);
    if (id !== mapping.ids[row]) {
      throw new RangeError(`${file}: row ${row} names image ${index} as '${mapping.ids[row] ?? ''}', but in ${source.location} it is '${id}'`);
    }
  });
}

export function registerAtlas(program: Command): void {
  program
    .command('atlas')
    .description('build texture atlases for the browser map: thumbnail sheets (WebP or PNG) and DIR/atlas.json')
    .requiredOption('--images <path>', 'an HDF5 file (N x H x W x 3 uint8) or a folder of JPEG/PNG/WebP/TIFF images')
    .option('--dataset <name>', 'HDF5 dataset holding the images', 'imgBrick')
    .requiredOption('--out <dir>', 'output folder')
    .option('--limit <n>', 'only the first N images')
    .option('--sizes <list>', 'thumbnail sizes in pixels, comma-separated', '32,64,128')
    .option('--sheet-size <px>', 'side of each square sheet', '2048')
    .option('--format <name>', 'sheet format: webp or png', 'webp')
    .option('--quality <q>', 'WebP quality 1-100 (lossy)', '90')
    .option('--lossless', 'lossless WebP')
    .option('--workers <n>', 'threads making thumbnails, 0 for none (default: one per core, at most 8)')
    .option('--stop-on-error', 'stop at the first unreadable image instead of leaving it out')
    .action(async (options: AtlasCommandOptions) => {
      if (options.format !== 'webp' && options.format !== 'png') throw new RangeError(`--format must be webp or png, got "${options.format}"`);
      const sizes = options.sizes.split(',').map((text) => parseInteger(text.trim(), '--sizes', { min: 1 }));
      const opened = await openImageSource(options.images, { dataset: options.dataset });
      const source = options.limit === undefined ? opened : limitSource(opened, parseInteger(options.limit, '--limit', { min: 1 }));
      const progress = createProgress('atlas', source.size, 'img');
      const started = Date.now();
      try {
        const summary = await buildAtlas(source, options.out, {
          sizes,
          sheetSize: parseInteger(options.sheetSize, '--sheet-size', { min: 1 }),
          format: options.format,
          quality: parseInteger(options.quality, '--quality', { min: 1 }),
          lossless: options.lossless === true,
          ...(options.workers === undefined ? {} : { workers: parseInteger(options.workers, '--workers', { min: 0 }) }),
          onBadImage: options.stopOnError ? 'stop' : 'skip',
          onProgress: (p) =>
            progress.update(p.done, { rate: p.done / Math.max((Date.now() - started) / 1000, 1e-3), note: `${p.sheetsWritten} sheets` }),
        });
        progress.stop();
        console.log(
          `${summary.indexFile}: ${summary.images} images in ${summary.sheets.length} sheets in ${(summary.elapsedMs / 1000).toFixed(1)} s` +
            (summary.failures > 0 ? `; ${summary.failures} unreadable, listed in atlas.json` : ''),
        );
      } finally {
        progress.stop();
        await source.close();
      }
    });
}
