/** Lasso selection: which points lie inside a polygon drawn on the map (data coordinates). */
import { forEachInBounds, type PointGridData } from './point-grid';

/** Even-odd rule; `polygon` is [x0, y0, x1, y1, ...], implicitly closed. */
export function insidePolygon(polygon: ArrayLike<number>, px: number, py: number): boolean {
  const n = polygon.length >> 1;
  let inside = false;
  for (let i = 0, j = n - 1; i < n; j = i++) {
    const xi = polygon[2 * i] as number;
    const yi = polygon[2 * i + 1] as number;
    const xj = polygon[2 * j] as number;
    const yj = polygon[2 * j + 1] as number;
    if (yi > py !== yj > py && px < ((xj - xi) * (py - yi)) / (yj - yi) + xi) inside = !inside;
  }
  return inside;
}

/** Indices of the points inside the polygon, ascending. */
export function lassoSelect(grid: PointGridData, x: Float32Array, y: Float32Array, polygon: ArrayLike<number>): Int32Array {
  const n = polygon.length >> 1;
  if (n < 3) return new Int32Array(0);
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const px = polygon[2 * i] as number;
    const py = polygon[2 * i + 1] as number;
    minX = Math.min(minX, px);
    maxX = Math.max(maxX, px);
    minY = Math.min(minY, py);
    maxY = Math.max(maxY, py);
  }
  const found: number[] = [];
  forEachInBounds(grid, x, y, { minX, minY, maxX, maxY }, (i) => {
    if (insidePolygon(polygon, x[i] as number, y[i] as number)) found.push(i);
  });
  return Int32Array.from(found).sort();
}
