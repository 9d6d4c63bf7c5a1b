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

describe('the web environment', () => {
  it('has defaults, normalizes the API URL, and names every bad variable', () => {
    expect(parseWebEnv({})).toEqual({ apiUrl: 'http://127.0.0.1:4000', secureCookie: 'auto', cookieMaxAgeSeconds: 30 * 24 * 3600 });
    expect(parseWebEnv({ STRATA_API_URL: 'https://lab.example.org/strata/', STRATA_WEB_COOKIE_DAYS: '7' })).toMatchObject({ apiUrl: 'https://lab.example.org/strata', cookieMaxAgeSeconds: 7 * 24 * 3600 });
    expect(() => parseWebEnv({ STRATA_API_URL: 'ftp://x', STRATA_WEB_SECURE_COOKIE: 'sometimes' })).toThrow(/STRATA_API_URL must use http or https.*STRATA_WEB_SECURE_COOKIE must be auto, always or never/);
  });
});
