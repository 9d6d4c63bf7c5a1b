/**
 * The web viewer's maths without a browser: the Viewport (data <-> pixels, zoom about a point),
 * the picking grid and lasso, the 2-D Procrustes port against @strata/core/compare's procrustes
 * (scipy's definition), the atlas index -> per-point columns, and the web app's environment.
 */
import { describe, expect, it } from 'vitest';
import { procrustes } from '@strata/core/compare';
import { parseWebEnv } from '../apps/web/env.js';
import { atlasColumns, checkAtlas } from '../apps/web/src/viewer/atlas-index.js';
import { insidePolygon, lassoSelect } from '../apps/web/src/viewer/lasso.js';
import { buildPointGrid, forEachInBounds, nearestPoint, pickPoint } from '../apps/web/src/viewer/point-grid.js';
import { procrustes2d } from '../apps/web/src/viewer/procrustes.js';
import { mulberry32, syntheticAtlas, syntheticMap } from '../apps/web/src/viewer/synthetic.js';
import { TileCache } from '../apps/web/src/viewer/textures.js';
import { FrameQueue } from '../apps/web/src/viewer/update-queue.js';
import { Viewport } from '../apps/web/src/viewer/viewport.js';

describe('Viewport', () => {
  const viewport = new Viewport({ width: 800, height: 600, centerX: 0.25, centerY: -0.5, scale: 1000 });

  it('maps data to pixels and back, y down as in the mosaic', () => {
    expect(viewport.toPixel(0.25, -0.5)).toEqual([400, 300]);
    expect(viewport.toPixel(0.35, -0.4)).toEqual([500, 400]);
    const [x, y] = viewport.toData(123, 456);
    const [px, py] = viewport.toPixel(x, y);
    expect(px).toBeCloseTo(123, 9);
    expect(py).toBeCloseTo(456, 9);
    expect(viewport.deckViewState()).toEqual({ target: [0.25, -0.5, 0], zoom: Math.log2(1000) });
  });

  it('zooms about a pixel: the data point under it stays under it', () => {
    const before = viewport.toData(100, 80);
    const zoomed = viewport.zoomAt(100, 80, 3.5);
    expect(zoomed.scale).toBe(3500);
    const [px, py] = zoomed.toPixel(before[0], before[1]);
    expect(px).toBeCloseTo(100, 9);
    expect(py).toBeCloseTo(80, 9);
    expect(viewport.zoomAt(0, 0, 100, { minScale: 10, maxScale: 2000 }).scale).toBe(2000);
  });

  it('pans, fits bounds, and refuses nonsense', () => {
    const panned = viewport.panBy(50, -20);
    expect(panned.toPixel(0.25, -0.5)).toEqual([450, 280]);
    const fitted = Viewport.fit({ minX: -1, minY: -0.5, maxX: 1, maxY: 0.5 }, 400, 400, 0);
    expect(fitted.scale).toBe(200);
    expect(fitted.visibleBounds()).toEqual({ minX: -1, minY: -1, maxX: 1, maxY: 1 });
    expect(() => new Viewport({ width: 1, height: 1, centerX: 0, centerY: 0, scale: 0 })).toThrow(/scale must be positive, got 0/);
    expect(() => viewport.zoomAt(0, 0, -1)).toThrow(/zoom factor must be positive/);
  });
});

describe('picking grid and lasso', () => {
  const random = mulberry32(5);
  const n = 5000;
  const x = Float32Array.from({ length: n }, () => random() - 0.5);
  const y = Float32Array.from({ length: n }, () => random() - 0.5);
  const grid = buildPointGrid(x, y, 0.02);

  it('finds exactly the points in a rectangle', () => {
    const bounds = { minX: -0.1, minY: 0.05, maxX: 0.2, maxY: 0.3 };
    const found: number[] = [];
    forEachInBounds(grid, x, y, bounds, (i) => {
      found.push(i);
    });
    const expected = [...x.keys()].filter((i) => (x[i] as number) >= bounds.minX && (x[i] as number) <= bounds.maxX && (y[i] as number) >= bounds.minY && (y[i] as number) <= bounds.maxY);
    expect(found.sort((a, b) => a - b)).toEqual(expected);
  });

  it('picks the topmost tile under a point (the last drawn), and the nearest point', () => {
    const tile = 0.05;
    const px = 0.01;
    const py = -0.02;
    const covering = [...x.keys()].filter((i) => Math.abs((x[i] as number) - px) <= tile / 2 && Math.abs((y[i] as number) - py) <= tile / 2);
    expect(pickPoint(grid, x, y, px, py, tile)).toBe(Math.max(...covering));
    let best = -1;
    let bestD = Infinity;
    for (let i = 0; i < n; i++) {
      const d = ((x[i] as number) - px) ** 2 + ((y[i] as number) - py) ** 2;
      if (d < bestD) [best, bestD] = [i, d];
    }
    expect(nearestPoint(grid, x, y, px, py, 0.1)).toBe(best);
  });

  it('selects the points inside a lasso (even-odd, concave polygons too)', () => {
    // A concave "C" shape.
    const polygon = [-0.3, -0.3, 0.3, -0.3, 0.3, -0.2, -0.2, -0.2, -0.2, 0.2, 0.3, 0.2, 0.3, 0.3, -0.3, 0.3];
    const selected = lassoSelect(grid, x, y, polygon);
    const expected = [...x.keys()].filter((i) => insidePolygon(polygon, x[i] as number, y[i] as number));
    expect([...selected]).toEqual(expected);
    expect(expected.length).toBeGreaterThan(200);
    expect(insidePolygon(polygon, 0, 0)).toBe(false);
    expect(insidePolygon(polygon, -0.25, 0)).toBe(true);
    expect(lassoSelect(grid, x, y, [0, 0, 1, 1])).toHaveLength(0);
  });
});

describe('procrustes2d', () => {
  const random = mulberry32(11);
  const n = 400;
  const first = Float64Array.from({ length: 2 * n }, () => random() * 10 - 5);
  // The second map: the first rotated, scaled, shifted, mirrored, with noise.
  const makeSecond = (mirror: boolean) => {
    const angle = 1.1;
    const second = new Float64Array(2 * n);
    for (let i = 0; i < n; i++) {
      const a = first[2 * i] as number;
      const b = (mirror ? -1 : 1) * (first[2 * i + 1] as number);
      second[2 * i] = 0.3 * (Math.cos(angle) * a - Math.sin(angle) * b) + 7 + (random() - 0.5) * 0.2;
      second[2 * i + 1] = 0.3 * (Math.sin(angle) * a + Math.cos(angle) * b) - 2 + (random() - 0.5) * 0.2;
    }
    return second;
  };
  const columns = (data: Float64Array, c: number) => Float64Array.from({ length: n }, (_, i) => data[2 * i + c] as number);

  for (const mirror of [false, true]) {
    it(`matches @strata/core/compare's procrustes (scipy) ${mirror ? 'with' : 'without'} a reflection`, () => {
      const second = makeSecond(mirror);
      const reference = procrustes({ rows: n, columns: 2, data: first }, { rows: n, columns: 2, data: second });
      const ours = procrustes2d(columns(first, 0), columns(first, 1), columns(second, 0), columns(second, 1));
      expect(ours.reflection).toBe(reference.reflection);
      expect(ours.reflection).toBe(mirror);
      expect(ours.disparity).toBeCloseTo(reference.disparity, 10);
      expect(ours.scale).toBeCloseTo(reference.scale, 9);
      for (let i = 0; i < n; i++) {
        expect(ours.alignedX[i]).toBeCloseTo(reference.aligned[2 * i] as number, 4);
        expect(ours.alignedY[i]).toBeCloseTo(reference.aligned[2 * i + 1] as number, 4);
      }
    });
  }

  it('refuses maps of different sizes or with one distinct point', () => {
    expect(() => procrustes2d([0, 1], [0, 1], [0], [0])).toThrow(/expected the same points/);
    expect(() => procrustes2d([1, 1], [2, 2], [0, 1], [0, 1])).toThrow(/coincide/);
  });
});

describe('atlas columns', () => {
  it('gives each map point its thumbnail rectangles at every size, grouped by sheet, and an overview layout', () => {
    const atlas = syntheticAtlas(5000);
    // The map shows the images in another order, one image missing from the atlas's view.
    const sourceIndex = Int32Array.from({ length: 100 }, (_, p) => (p * 37) % 5000);
    sourceIndex[99] = 99_999;
    const columns = atlasColumns(checkAtlas(atlas), sourceIndex, 'test');
    expect(columns.tileSizes).toEqual([32, 64, 128]);
    for (let level = 0; level < 3; level++) {
      for (let p = 0; p < 99; p++) {
        const tile = atlas.images[sourceIndex[p] as number]?.tiles[level];
        expect(columns.sheetOf[level]?.[p]).toBe(tile?.sheet);
        expect([...(columns.rects[level]?.subarray(4 * p, 4 * p + 4) ?? [])]).toEqual([tile?.x, tile?.y, tile?.w, tile?.h]);
      }
      expect(columns.sheetOf[level]?.[99]).toBe(-1);
    }
    // Every (point, level) once in the sheet grouping.
    expect(columns.sheetItems.length).toBe(99 * 3);
    for (let s = 0; s < atlas.sheets.length; s++) {
      for (let k = columns.sheetStart[s] as number; k < (columns.sheetStart[s + 1] as number); k++) {
        const p = columns.sheetItems[k] as number;
        expect(columns.sheetOf.some((of) => of[p] === s)).toBe(true);
      }
    }
    // Overview: level-0 sheets shrunk 4x (32 -> 8 texels) and tiled.
    expect(columns.overview.factor).toBe(4);
    expect(columns.overview.slots.length / 3).toBe(2);
    expect(columns.overview.width).toBe(1024);
    const p = 5;
    const sheet = columns.sheetOf[0]?.[p] as number;
    const k = [...Array(columns.overview.slots.length / 3).keys()].find((slot) => columns.overview.slots[3 * slot] === sheet) as number;
    expect(columns.overviewRects[4 * p]).toBe((columns.overview.slots[3 * k + 1] as number) + (columns.rects[0]?.[4 * p] as number) / 4);
    expect(columns.overviewRects[4 * p + 2]).toBe(8);
    expect(() => checkAtlas({ format: 'other', tileSizes: [], sheets: [], images: [] })).toThrow(/format "other"/);
    expect(() => checkAtlas({ nothing: true })).toThrow(/not a Strata atlas index/);
  });

  it('builds a synthetic NSD-sized map quickly', () => {
    const started = performance.now();
    const map = syntheticMap(73_000, 7);
    const grid = buildPointGrid(map.x, map.y, 0.004);
    expect(grid.items.length).toBe(73_000);
    expect(performance.now() - started).toBeLessThan(2000);
  });
});

describe('tile cache', () => {
  // A stand-in GPU device: the cache's bookkeeping is what is tested here.
  const uploads: { y: number; height: number }[] = [];
  const device = {
    createTexture: (props: { width: number; height: number }) => ({
      width: props.width,
      height: props.height,
      copyExternalImage: (options: { y: number; height: number }) => uploads.push({ y: options.y, height: options.height }),
      destroy: () => undefined,
    }),
  } as unknown as ConstructorParameters<typeof TileCache>[0];

  it('hands out whole rows, oldest first, centres thumbnails in their cells, and cancels requests whose rows it takes back', () => {
    const cache = new TileCache(device, { id: 'test', cellSize: 32, cols: 4, rows: 4 });
    expect(cache.capacity).toBe(16);
    const first = cache.allocate([{ image: 10, w: 32, h: 24 }, { image: 11, w: 20, h: 32 }, ...[12, 13, 14].map((image) => ({ image, w: 32, h: 32 }))], 1);
    expect(first.evictedTickets).toEqual([]);
    expect(first.bands).toHaveLength(1);
    expect(first.bands[0]).toMatchObject({ firstRow: 0, rows: 2, width: 128, height: 64 });
    expect(first.bands[0]?.items.map((item) => [item.image, item.slot, item.dx, item.dy])).toEqual([
      [10, 0, 0, 4],
      [11, 1, 32 + 6, 0],
      [12, 2, 64, 0],
      [13, 3, 96, 0],
      [14, 4, 0, 32],
    ]);
    const rect = new Float32Array(4);
    cache.rect(1, rect, 0);
    expect([...rect]).toEqual([38, 0, 20, 32]);
    expect(cache.has(11)).toBe(true);
    // At most half the cache per request; the next rows follow, then the ring wraps over the oldest.
    const second = cache.allocate(Array.from({ length: 20 }, (_, i) => ({ image: 100 + i, w: 32, h: 32 })), 2);
    expect(second.bands.map((band) => [band.firstRow, band.rows, band.items.length])).toEqual([[2, 2, 8]]);
    const third = cache.allocate([{ image: 200, w: 32, h: 32 }], 3);
    expect(third.bands.map((band) => band.firstRow)).toEqual([0]);
    expect(third.evictedTickets).toEqual([1]);
    expect(cache.has(10)).toBe(false);
    expect(cache.has(14)).toBe(true);
    cache.release(2);
    cache.forget(second.bands[0]?.items ?? []);
    expect(cache.has(100)).toBe(false);
    expect(cache.size).toBe(2);
    // A band's bitmap goes up in one upload at its first row.
    const bitmap = { width: 128, height: 32, close: () => undefined } as unknown as ImageBitmap;
    cache.upload(third.bands[0] as (typeof third.bands)[number], bitmap);
    expect(uploads.at(-1)).toEqual({ y: 0, height: 32 });
  });
});

describe('the frame queue', () => {
  it('coalesces changes into one commit per frame, and never runs commits on top of each other', () => {
    const frames: (() => void)[] = [];
    const globals = globalThis as unknown as { requestAnimationFrame: (f: () => void) => number; cancelAnimationFrame: (id: number) => void };
    const saved = { raf: globals.requestAnimationFrame, caf: globals.cancelAnimationFrame };
    globals.requestAnimationFrame = (f) => frames.push(f);
    globals.cancelAnimationFrame = () => {
      throw new Error('nothing is scheduled twice, so nothing is cancelled');
    };
    try {
      let commits = 0;
      let queue: FrameQueue | null = null;
      queue = new FrameQueue(() => {
        commits += 1;
        // A change during a commit is committed once more afterwards, on the next frame.
        if (commits === 1) queue?.schedule();
      });
      queue.schedule();
      queue.schedule();
      queue.schedule();
      expect(frames).toHaveLength(1);
      frames.shift()?.();
      expect(commits).toBe(1);
      expect(frames).toHaveLength(1);
      frames.shift()?.();
      expect(commits).toBe(2);
      queue.dispose();
      queue.schedule();
      expect(frames).toHaveLength(0);
    } finally {
      globals.requestAnimationFrame = saved.raf;
      globals.cancelAnimationFrame = saved.caf;
    }
  });
});

describe('the web environment', () => {
  it('has defaults, normalizes the API URL, and names every bad variable', () => {
    expect(parseWebEnv({})).toEqual({ apiUrl: 'http://127.0.0.1:4000', secureCookie: 'auto', cookieMaxAgeSeconds: 30 * 24 * 3600 });
    expect(parseWebEnv({ STRATA_API_URL: 'https://lab.example.org/strata/', STRATA_WEB_COOKIE_DAYS: '7' })).toMatchObject({ apiUrl: 'https://lab.example.org/strata', cookieMaxAgeSeconds: 7 * 24 * 3600 });
    expect(() => parseWebEnv({ STRATA_API_URL: 'ftp://x', STRATA_WEB_SECURE_COOKIE: 'sometimes' })).toThrow(/STRATA_API_URL must use http or https.*STRATA_WEB_SECURE_COOKIE must be auto, always or never/);
  });
});
