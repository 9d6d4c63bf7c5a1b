/**
 * Snapping a 2-D map onto a grid of cells, one point per cell, keeping neighbours near: the
 * assignment of points to cells that minimises the total squared distance between each point
 * and its cell, with the map stretched over the grid the way the recipe stretches it over the
 * canvas (each axis min-max normalised, then scaled to the cell centres 0..cols-1, 0..rows-1).
 *
 * Up to `exactLimit` cells this is solved exactly as one dense linear assignment (Jonker-
 * Volgenant, lap.ts); its cost matrix has points x cells entries, so 73,000 images at once
 * would need 43 GB and hours. Larger grids are cut recursively in two along their longer side
 * (a k-d split of the cells), each half receiving the points on its side of the cut, moved
 * across only as far as the half's capacity requires (points nearest the cut move first), until
 * every block has at most `blockSize` cells; each block is then solved exactly. Cost is
 * O(N log^2 N) for the splits plus N / blockSize small dense problems. Points never cross a
 * cut, which costs some optimality near the cuts; windowed exact re-solves laid across the
 * cuts (refine) win most of it back. docs/mosaic.md has the measurements.
 */
import { solveAssignment } from './lap.js';
import { checkCoordinates } from './layout.js';

export interface GridShape {
  readonly cols: number;
  readonly rows: number;
}

export interface GridLayoutOptions extends GridShape {
  /**
   * Grids of up to this many cells are solved exactly, as one dense assignment (about 1 s at
   * 1024 on one core; time grows about as the cube). Default 1024.
   */
  readonly exactLimit?: number;
  /** Most cells per block when a larger grid is split (see the file comment). Default 256. */
  readonly blockSize?: number;
  /**
   * Passes of windowed exact re-solves across the block seams after the blocked solve (see
   * refine). Default 2; 0 keeps the blocked result.
   */
  readonly refinePasses?: number;
  /** Called after each solved block with the number of points placed so far. */
  readonly onProgress?: (progress: { readonly placed: number; readonly total: number }) => void;
}

export const DEFAULT_GRID_EXACT_LIMIT = 1024;
export const DEFAULT_GRID_BLOCK_SIZE = 256;

/**
 * The smallest grid with about the canvas's aspect ratio (width / height) that holds n points:
 * cols = ceil(sqrt(n * aspect)), rows = ceil(n / cols).
 */
export function defaultGridShape(n: number, aspect = 4 / 3): GridShape {
  if (!Number.isInteger(n) || n < 1) throw new RangeError(`n must be a positive integer, got ${String(n)}`);
  if (!(aspect > 0) || !Number.isFinite(aspect)) throw new RangeError(`aspect must be a positive number, got ${String(aspect)}`);
  const cols = Math.max(1, Math.min(n, Math.ceil(Math.sqrt(n * aspect))));
  return { cols, rows: Math.ceil(n / cols) };
}

/** Points in cell units: x in [0, cols - 1], y in [0, rows - 1] (the middle when an axis is flat). */
function pointsInCellUnits(coords: Float32Array | Float64Array, n: number, cols: number, rows: number): Float64Array {
  const out = new Float64Array(2 * n);
  for (let axis = 0; axis < 2; axis++) {
    let min = Number.POSITIVE_INFINITY;
    let max = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const v = coords[2 * i + axis] ?? Number.NaN;
      if (!Number.isFinite(v)) throw new RangeError(`coordinate ${axis === 0 ? 'x' : 'y'} of point ${i} is ${v}; the grid needs finite coordinates`);
      if (v < min) min = v;
      if (v > max) max = v;
    }
    const span = (axis === 0 ? cols : rows) - 1;
    const range = max - min;
    for (let i = 0; i < n; i++) {
      out[2 * i + axis] = range > 0 ? (((coords[2 * i + axis] ?? 0) - min) / range) * span : span / 2;
    }
  }
  return out;
}

/**
 * Assigns each of the n points (interleaved x, y) to its own cell of a cols x rows grid
 * (cols * rows >= n), keeping the map's neighbourhoods. Returns the cell of each point,
 * `row * cols + col`.
 */
export function gridLayout(coords: Float32Array | Float64Array, n: number, options: GridLayoutOptions): Int32Array {
  checkCoordinates(coords, n);
  const { cols, rows } = options;
  const blockSize = options.blockSize ?? DEFAULT_GRID_BLOCK_SIZE;
  const exactLimit = options.exactLimit ?? DEFAULT_GRID_EXACT_LIMIT;
  for (const [name, value] of [['cols', cols], ['rows', rows], ['blockSize', blockSize], ['exactLimit', exactLimit]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  if (cols * rows < n) {
    throw new RangeError(`a ${cols} x ${rows} grid has ${cols * rows} cells, fewer than the ${n} points`);
  }
  const cells = new Int32Array(n);
  if (n === 0) return cells;
  const xy = pointsInCellUnits(coords, n, cols, rows);
  const order = new Int32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let placed = 0;

  const solveBlock = (points: Int32Array, c0: number, r0: number, w: number, h: number): void => {
    const k = points.length;
    const count = w * h;
    const cost = new Float64Array(k * count);
    for (let p = 0; p < k; p++) {
      const i = points[p] ?? 0;
      const x = xy[2 * i] ?? 0;
      const y = xy[2 * i + 1] ?? 0;
      const base = p * count;
      for (let j = 0; j < count; j++) {
        const dx = x - (c0 + (j % w));
        const dy = y - (r0 + Math.floor(j / w));
        cost[base + j] = dx * dx + dy * dy;
      }
    }
    const { rowToColumn } = solveAssignment(cost, k, count);
    for (let p = 0; p < k; p++) {
      const j = rowToColumn[p] ?? 0;
      cells[points[p] ?? 0] = (r0 + Math.floor(j / w)) * cols + c0 + (j % w);
    }
    placed += k;
    options.onProgress?.({ placed, total: n });
  };

  const solveRegion = (points: Int32Array, c0: number, r0: number, w: number, h: number): void => {
    const k = points.length;
    if (k === 0) return;
    if (w * h <= blockSize) {
      solveBlock(points, c0, r0, w, h);
      return;
    }
    // Cut the longer side in two; cells [c0, c0 + wa) (or rows [r0, r0 + ha)) form side A.
    const vertical = w >= h;
    const wa = vertical ? w >> 1 : w;
    const ha = vertical ? h : h >> 1;
    const capacityA = wa * ha;
    const capacityB = w * h - capacityA;
    const axis = vertical ? 0 : 1;
    const other = 1 - axis;
    // Sorted along the cut axis (then the other axis, then index, so the result is deterministic).
    points.sort((a, b) => (xy[2 * a + axis] ?? 0) - (xy[2 * b + axis] ?? 0) || (xy[2 * a + other] ?? 0) - (xy[2 * b + other] ?? 0) || a - b);
    // Points left of the boundary between the two halves (half-way between cell centres) stay
    // on side A, unless a side is over capacity: then the points nearest the cut move over.
    const boundary = (vertical ? c0 + wa : r0 + ha) - 0.5;
    let natural = 0;
    while (natural < k && (xy[2 * (points[natural] ?? 0) + axis] ?? 0) < boundary) natural++;
    const kA = Math.min(capacityA, Math.max(k - capacityB, natural));
    solveRegion(points.subarray(0, kA), c0, r0, wa, ha);
    solveRegion(points.subarray(kA), vertical ? c0 + wa : c0, vertical ? r0 : r0 + ha, vertical ? w - wa : w, vertical ? h : h - ha);
  };

  if (cols * rows <= exactLimit) {
    solveBlock(order, 0, 0, cols, rows);
  } else {
    solveRegion(order, 0, 0, cols, rows);
    if (cols * rows > blockSize) refine(xy, cells, cols, rows, blockSize, options.refinePasses ?? 2);
  }
  return cells;
}

/**
 * Repairs the cuts: windows of about blockSize cells, laid across the cuts (offset by half a
 * window), are each re-solved exactly over the points they hold and their empty cells. A
 * window's solution can only lower the total cost (its current assignment is one of the
 * candidates), so each pass keeps every gain of the previous ones.
 */
function refine(xy: Float64Array, cells: Int32Array, cols: number, rows: number, blockSize: number, passes: number): void {
  const side = Math.max(2, Math.floor(Math.sqrt(blockSize)));
  const bw = Math.min(cols, side);
  const bh = Math.min(rows, Math.max(2, Math.floor(blockSize / bw)));
  const occupant = new Int32Array(cols * rows).fill(-1);
  for (let i = 0; i < cells.length; i++) occupant[cells[i] ?? 0] = i;
  const points = new Int32Array(bw * bh);
  const free = new Int32Array(bw * bh);
  for (let pass = 0; pass < passes; pass++) {
    // Alternate the offset so that successive passes straddle different seams.
    const ox = pass % 2 === 0 ? bw >> 1 : bw >> 2;
    const oy = pass % 2 === 0 ? bh >> 1 : (3 * bh) >> 2;
    for (let r0 = -oy; r0 < rows; r0 += bh) {
      for (let c0 = -ox; c0 < cols; c0 += bw) {
        const ca = Math.max(0, c0);
        const ra = Math.max(0, r0);
        const w = Math.min(cols, c0 + bw) - ca;
        const h = Math.min(rows, r0 + bh) - ra;
        if (w <= 0 || h <= 0) continue;
        let k = 0;
        for (let j = 0; j < w * h; j++) {
          const cell = (ra + Math.floor(j / w)) * cols + ca + (j % w);
          const p = occupant[cell] ?? -1;
          if (p >= 0) points[k++] = p;
          free[j] = cell;
        }
        if (k < 2) continue;
        const count = w * h;
        const cost = new Float64Array(k * count);
        for (let q = 0; q < k; q++) {
          const i = points[q] ?? 0;
          const x = xy[2 * i] ?? 0;
          const y = xy[2 * i + 1] ?? 0;
          for (let j = 0; j < count; j++) {
            const dx = x - (ca + (j % w));
            const dy = y - (ra + Math.floor(j / w));
            cost[q * count + j] = dx * dx + dy * dy;
          }
        }
        const { rowToColumn } = solveAssignment(cost, k, count);
        for (let j = 0; j < count; j++) occupant[free[j] ?? 0] = -1;
        for (let q = 0; q < k; q++) {
          const cell = free[rowToColumn[q] ?? 0] ?? 0;
          cells[points[q] ?? 0] = cell;
          occupant[cell] = points[q] ?? 0;
        }
      }
    }
  }
}

/**
 * Total squared distance, in cell units, between the points (normalised as gridLayout does)
 * and their cells: what gridLayout minimises, for comparing layouts.
 */
export function gridLayoutCost(coords: Float32Array | Float64Array, n: number, cells: Int32Array, shape: GridShape): number {
  checkCoordinates(coords, n);
  if (cells.length !== n) throw new RangeError(`cells has ${cells.length} entries, expected ${n}`);
  const xy = pointsInCellUnits(coords, n, shape.cols, shape.rows);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const cell = cells[i] ?? 0;
    const dx = (xy[2 * i] ?? 0) - (cell % shape.cols);
    const dy = (xy[2 * i + 1] ?? 0) - Math.floor(cell / shape.cols);
    total += dx * dx + dy * dy;
  }
  return total;
}
