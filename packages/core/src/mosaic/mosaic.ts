/**
 * The t-SNE image map: every image shrunk to a tile (longest side `tile`, Pillow's LANCZOS)
 * and pasted at its normalised map position on a transparent RGBA canvas, later images over
 * earlier ones, exactly as the classic notebook recipe does it (layout.ts has the arithmetic).
 * With `grid`, each image instead gets its own cell of a grid (grid.ts), centred in it.
 */
import sharp, { type Sharp } from 'sharp';

import type { RawImage } from '../image/raw-image.js';
import { ImageReadError, type ImageSource } from '../sources/types.js';
import { type CanvasOptions, createCanvas, pasteTile } from './canvas.js';
import { defaultGridShape, gridLayout, type GridShape } from './grid.js';
import {
  type CoordinateArray,
  DEFAULT_MOSAIC_HEIGHT,
  DEFAULT_MOSAIC_WIDTH,
  DEFAULT_TILE,
  type RecipeLayoutOptions,
  checkCoordinates,
  checkDimension,
  recipePositions,
  recipeTileSize,
} from './layout.js';
import { createResizePool } from './resize-pool.js';
import { streamImages } from './stream.js';

export interface MosaicGridOptions {
  /** Grid columns; default from the canvas aspect ratio and n (defaultGridShape). */
  readonly cols?: number;
  /** Grid rows; default ceil(n / cols). */
  readonly rows?: number;
  /** See GridLayoutOptions.exactLimit. */
  readonly exactLimit?: number;
  /** See GridLayoutOptions.blockSize. */
  readonly blockSize?: number;
}

export interface MosaicProgress {
  readonly phase: 'grid' | 'tiles';
  readonly done: number;
  readonly total: number;
}

export interface MosaicOptions extends RecipeLayoutOptions, CanvasOptions {
  /**
   * Source image of each coordinate row (e.g. images.json of an extraction that skipped bad
   * images). Default: row i is image i, and the source must have exactly n images.
   */
  readonly imageIndices?: Int32Array;
  /**
   * Snap the map to a grid, one image per cell, instead of the recipe's free placement. The
   * canvas is then cols x tile by rows x tile; width and height only set the default aspect.
   */
  readonly grid?: boolean | MosaicGridOptions;
  /** Images read at a time. Default 8. */
  readonly batchSize?: number;
  /**
   * Worker threads resizing tiles; 0 resizes on the calling thread. Default: one per core, at
   * most 8 (see resize-pool.ts). The picture is the same for any count.
   */
  readonly workers?: number;
  /** 'skip' (default) leaves an unreadable image out and reports it; 'stop' throws it. */
  readonly onBadImage?: 'skip' | 'stop';
  readonly onProgress?: (progress: MosaicProgress) => void;
  readonly signal?: AbortSignal;
}

export interface MosaicResult {
  /** The RGBA canvas. */
  readonly image: RawImage;
  readonly placed: number;
  readonly failures: readonly ImageReadError[];
  /** Grid mode: the grid and the cell (row * cols + col) of each coordinate row. */
  readonly grid?: GridShape & { readonly cells: Int32Array };
  readonly elapsedMs: number;
}

/** Renders the map of `n` points (interleaved x, y) with the images of `source`. */
export async function renderMosaic(source: ImageSource, coords: CoordinateArray, n: number, options: MosaicOptions = {}): Promise<MosaicResult> {
  const started = performance.now();
  checkCoordinates(coords, n);
  const width = options.width ?? DEFAULT_MOSAIC_WIDTH;
  const height = options.height ?? DEFAULT_MOSAIC_HEIGHT;
  const tile = options.tile ?? DEFAULT_TILE;
  checkDimension('width', width);
  checkDimension('height', height);
  checkDimension('tile', tile);
  const onBadImage = options.onBadImage ?? 'skip';
  if (onBadImage !== 'skip' && onBadImage !== 'stop') throw new RangeError(`onBadImage must be 'skip' or 'stop', got '${String(onBadImage)}'`);
  const indices = options.imageIndices;
  if (indices === undefined && source.size !== n) {
    throw new RangeError(`${n} coordinate rows for ${source.size} images in ${source.location}; they must match one to one (or give the row -> image mapping)`);
  }
  if (indices !== undefined && indices.length !== n) {
    throw new RangeError(`imageIndices has ${indices.length} entries for ${n} coordinate rows`);
  }

  // Positions first: bad coordinates or a canvas over budget fail before any image is read.
  let positions: Int32Array;
  let canvas: RawImage;
  let grid: MosaicResult['grid'];
  if (options.grid) {
    const gridOptions = options.grid === true ? {} : options.grid;
    const shape = resolveGridShape(n, width / height, gridOptions);
    canvas = createCanvas(shape.cols * tile, shape.rows * tile, options);
    const cells = gridLayout(coords, n, {
      ...shape,
      ...(gridOptions.blockSize === undefined ? {} : { blockSize: gridOptions.blockSize }),
      ...(gridOptions.exactLimit === undefined ? {} : { exactLimit: gridOptions.exactLimit }),
      onProgress: (p) => options.onProgress?.({ phase: 'grid', done: p.placed, total: p.total }),
    });
    positions = new Int32Array(2 * n);
    for (let i = 0; i < n; i++) {
      const cell = cells[i] ?? 0;
      positions[2 * i] = (cell % shape.cols) * tile;
      positions[2 * i + 1] = Math.floor(cell / shape.cols) * tile;
    }
    grid = { ...shape, cells };
  } else {
    positions = recipePositions(coords, n, options);
    canvas = createCanvas(width, height, options);
  }

  const failures: ImageReadError[] = [];
  let row = 0;
  let placed = 0;
  const pool = createResizePool({ filter: 'lanczos', ...(options.workers === undefined ? {} : { workers: options.workers }) });
  // Tiles resized ahead on the workers, pasted strictly in row order (later rows cover earlier ones).
  const ahead: { readonly row: number; readonly size: { width: number; height: number }; readonly tile: Promise<RawImage[]> }[] = [];
  const pasteNext = async (): Promise<void> => {
    const next = ahead.shift();
    if (next === undefined) return;
    const [resized] = await next.tile;
    if (resized === undefined) throw new Error(`internal: no tile for row ${next.row}`);
    let x = positions[2 * next.row] ?? 0;
    let y = positions[2 * next.row + 1] ?? 0;
    if (grid !== undefined) {
      // Centred in its cell, so that the grid's gutters are even around portrait and landscape tiles.
      x += (tile - next.size.width) >> 1;
      y += (tile - next.size.height) >> 1;
    }
    pasteTile(canvas, resized, x, y);
    placed++;
    options.onProgress?.({ phase: 'tiles', done: placed + failures.length, total: n });
  };
  try {
    for await (const result of streamImages(source, {
      ...(indices === undefined ? {} : { indices }),
      ...(options.batchSize === undefined ? {} : { batchSize: options.batchSize }),
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    })) {
      const i = row++;
      if (!result.ok) {
        if (onBadImage === 'stop') throw result.error;
        failures.push(result.error);
        continue;
      }
      const { image } = result;
      const size = recipeTileSize(image.width, image.height, tile);
      const resized = pool.resize(image, [[size.width, size.height]]);
      // Awaited in order by pasteNext; a failure meanwhile must not count as unhandled.
      resized.catch(() => undefined);
      ahead.push({ row: i, size, tile: resized });
      while (ahead.length > 2 * pool.workers) await pasteNext();
    }
    while (ahead.length > 0) await pasteNext();
  } finally {
    await pool.close();
  }
  return { image: canvas, placed, failures, ...(grid === undefined ? {} : { grid }), elapsedMs: performance.now() - started };
}

function resolveGridShape(n: number, aspect: number, options: MosaicGridOptions): GridShape {
  const { cols, rows } = options;
  if (cols !== undefined) checkDimension('grid cols', cols);
  if (rows !== undefined) checkDimension('grid rows', rows);
  let shape: GridShape;
  if (cols !== undefined && rows !== undefined) shape = { cols, rows };
  else if (cols !== undefined) shape = { cols, rows: Math.max(1, Math.ceil(n / cols)) };
  else if (rows !== undefined) shape = { cols: Math.max(1, Math.ceil(n / rows)), rows };
  else shape = n === 0 ? { cols: 1, rows: 1 } : defaultGridShape(n, aspect);
  if (shape.cols * shape.rows < n) {
    throw new RangeError(`a ${shape.cols} x ${shape.rows} grid has ${shape.cols * shape.rows} cells for ${n} images; give more columns or rows`);
  }
  return shape;
}

/** Encodes an RGBA canvas as PNG (what `full_image.save('map.png')` writes, pixel for pixel). */
export async function encodeMosaicPng(image: RawImage): Promise<Buffer> {
  return mosaicPipeline(image).toBuffer();
}

export async function writeMosaicPng(image: RawImage, path: string): Promise<void> {
  await mosaicPipeline(image).toFile(path);
}

function mosaicPipeline(image: RawImage): Sharp {
  if (image.channels !== 4) throw new RangeError(`mosaic canvas must be RGBA (4 channels), got ${image.channels}`);
  const buffer = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  // zlib level 6 is also PIL's default (compress_level -1), so sizes and times are comparable.
  return sharp(buffer, { raw: { width: image.width, height: image.height, channels: 4 }, limitInputPixels: false }).png({ compressionLevel: 6 });
}
