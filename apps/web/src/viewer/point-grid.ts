/**
 * A uniform grid over map points for picking (what is under the pointer), range queries (what is
 * on screen) and lassos: two typed arrays built with a counting sort, cheap to transfer between
 * the map worker and the page.
 */
import type { Bounds } from './viewport';

export interface PointGridData {
  readonly minX: number;
  readonly minY: number;
  readonly cellSize: number;
  readonly cols: number;
  readonly rows: number;
  /** cellStart[c]..cellStart[c + 1] index `items` for cell c = row * cols + col. */
  readonly cellStart: Int32Array;
  /** Point indices, grouped by cell, ascending within a cell (draw order). */
  readonly items: Int32Array;
}

/** Builds the grid; cells are about `cellSize` wide, at most `maxCells` of them. */
export function buildPointGrid(x: Float32Array, y: Float32Array, cellSize: number, maxCells = 1 << 20): PointGridData {
  if (x.length !== y.length) throw new RangeError(`x has ${x.length} values, y has ${y.length}; expected the same`);
  const n = x.length;
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const px = x[i] as number;
    const py = y[i] as number;
    if (px < minX) minX = px;
    if (px > maxX) maxX = px;
    if (py < minY) minY = py;
    if (py > maxY) maxY = py;
  }
  if (n === 0) {
    minX = minY = 0;
    maxX = maxY = 1;
  }
  let size = cellSize > 0 ? cellSize : 1;
  const cellsFor = (s: number) => (Math.floor((maxX - minX) / s) + 1) * (Math.floor((maxY - minY) / s) + 1);
  while (cellsFor(size) > maxCells) size *= 2;
  const cols = Math.floor((maxX - minX) / size) + 1;
  const rows = Math.floor((maxY - minY) / size) + 1;
  const cellOf = new Int32Array(n);
  const cellStart = new Int32Array(cols * rows + 1);
  for (let i = 0; i < n; i++) {
    const c = Math.floor(((y[i] as number) - minY) / size) * cols + Math.floor(((x[i] as number) - minX) / size);
    cellOf[i] = c;
    cellStart[c + 1] = (cellStart[c + 1] as number) + 1;
  }
  for (let c = 0; c < cols * rows; c++) cellStart[c + 1] = (cellStart[c + 1] as number) + (cellStart[c] as number);
  const fill = cellStart.slice(0, cols * rows);
  const items = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const c = cellOf[i] as number;
    items[fill[c] as number] = i;
    fill[c] = (fill[c] as number) + 1;
  }
  return { minX, minY, cellSize: size, cols, rows, cellStart, items };
}

function cellRange(grid: PointGridData, bounds: Bounds): [number, number, number, number] | null {
  const c0 = Math.max(0, Math.floor((bounds.minX - grid.minX) / grid.cellSize));
  const c1 = Math.min(grid.cols - 1, Math.floor((bounds.maxX - grid.minX) / grid.cellSize));
  const r0 = Math.max(0, Math.floor((bounds.minY - grid.minY) / grid.cellSize));
  const r1 = Math.min(grid.rows - 1, Math.floor((bounds.maxY - grid.minY) / grid.cellSize));
  return c0 > c1 || r0 > r1 ? null : [c0, c1, r0, r1];
}

/** Calls `visit` for every point inside `bounds`; stops early when it returns false. */
export function forEachInBounds(grid: PointGridData, x: Float32Array, y: Float32Array, bounds: Bounds, visit: (index: number) => boolean | void): void {
  const range = cellRange(grid, bounds);
  if (!range) return;
  const [c0, c1, r0, r1] = range;
  for (let r = r0; r <= r1; r++) {
    for (let c = c0; c <= c1; c++) {
      const cell = r * grid.cols + c;
      for (let k = grid.cellStart[cell] as number; k < (grid.cellStart[cell + 1] as number); k++) {
        const i = grid.items[k] as number;
        const px = x[i] as number;
        const py = y[i] as number;
        if (px >= bounds.minX && px <= bounds.maxX && py >= bounds.minY && py <= bounds.maxY) {
          if (visit(i) === false) return;
        }
      }
    }
  }
}

/**
 * The topmost point whose square tile (side `tile`, centred on the point) covers (px, py), or -1.
 * Later points are drawn over earlier ones, so the highest index wins.
 */
export function pickPoint(grid: PointGridData, x: Float32Array, y: Float32Array, px: number, py: number, tile: number): number {
  const half = tile / 2;
  let best = -1;
  forEachInBounds(grid, x, y, { minX: px - half, minY: py - half, maxX: px + half, maxY: py + half }, (i) => {
    if (i > best) best = i;
  });
  return best;
}

/** The point nearest (px, py) within `radius`, or -1. */
export function nearestPoint(grid: PointGridData, x: Float32Array, y: Float32Array, px: number, py: number, radius: number): number {
  let best = -1;
  let bestD = radius * radius;
  forEachInBounds(grid, x, y, { minX: px - radius, minY: py - radius, maxX: px + radius, maxY: py + radius }, (i) => {
    const d = ((x[i] as number) - px) ** 2 + ((y[i] as number) - py) ** 2;
    if (d <= bestD) {
      bestD = d;
      best = i;
    }
  });
  return best;
}
