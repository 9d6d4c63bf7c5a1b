/**
 * Barnes-Hut repulsive forces with sklearn's opening criterion (a cell stands in for its points
 * at their centre of mass when squared_max_width / d^2 < theta^2), applied per *group* of
 * points rather than per point: the tree is walked once for each group (the largest cells of at
 * most GROUP_SIZE points, quadtree.ts), with d the distance from the cell's centre of mass to
 * the group's bounding box, and every point of the group then sums the same interaction list
 * (the accepted cells and the leaves reached) in a tight loop without branches.
 *
 * Why: per point, the walk visited ~160 cells at 5,000 points, and its accept/open branch is
 * unpredictable, which cost ~22 ns a visit (3.6 ms a step on one core). Per group, the walk is
 * shared by up to GROUP_SIZE points and the per-point sums (below) cost ~0.6 ns an entry: 0.8 ms. A
 * cell accepted for the group passes the criterion for each of its points (their d is at least
 * the box distance), so the lists are a little longer than per-point walks would give and the
 * forces *more* accurate (relative error of the repulsion against exact, final 5,000-point map:
 * 2.8e-3 against 9.0e-3 per point).
 *
 * Leaves of one point, or of coincident points, have width 0 and always enter the list as
 * they are; a leaf of a few points (quadtree.ts, LEAF_SIZE) that the criterion does not accept
 * enters as its points. A cell holding a point of the group is never accepted as a summary (for theta < 1.4 the
 * criterion already refuses it; the check keeps that true for any theta), so each point meets
 * its own leaf exactly once, at distance 0 (coincident points keep the exact position; at the
 * depth limit the distance is far below the resolution of 1 + d^2): it contributes 1 to
 * q and no force, and subtracting 1 leaves the point itself out while its exact duplicates
 * count q = 1 each. (sklearn's quadtree drops duplicates from Z altogether, which makes its KL
 * wrong, even negative, on data with repeats.)
 */
import type { QuadTreeArrays } from './quadtree.js';
import { BH_LIST_WASM } from './wasm/bh-list.js';
import { instantiate, wasmAllowed } from './wasm/instance.js';

/**
 * Where the list sums run: wasm/bh-list.wat sums eight points at a time in f32x4 lanes, 2.5x
 * faster than a float64 JavaScript loop (5,000 points: 1.55 ms a step on one core in
 * JavaScript, 1.05 in float64 WebAssembly, 0.8 in float32; 20,000 points: 9.2, 6.3, 4.4; list
 * building included). Its operations are the JavaScript fallback's (sumListsJs, which rounds
 * every result to float32 with Math.fround: exact for + - * /), in the same order, so both give
 * the same bits and a runtime without WebAssembly SIMD gets the same map.
 * Float32 is enough: coordinates are taken relative to the group's centre (so near cells keep
 * their relative precision), and the forces differ from float64 sums by ~3e-7 relative, four
 * orders below the approximation's own error (2.8e-3 against exact at 5,000 points).
 * Memory layout (f32 slots): point x at 0, y at 64, results fx at 128, fy at 192, q at 256 (up
 * to BATCH = 64 points), the list from slot 512 on, four slots an entry (centre x, centre y,
 * size, unused).
 */
const POINT_X = 0;
const POINT_Y = 64;
const OUT_FX = 128;
const OUT_FY = 192;
const OUT_Q = 256;
const LIST = 512;
const ENTRY = 4;
/** Points per call of the sums (the module's point slots); a multiple of 8. */
const BATCH = 64;

interface ListSums {
  /** Slots: the layout above, as a view on the module's memory when there is one. */
  slots: Float32Array;
  /** Sums `count` entries for `points` points (a multiple of 8); undefined: use JavaScript. */
  sum: ((count: number, points: number) => void) | undefined;
  grow(entries: number): void;
}

let listSums: ListSums | undefined;
/** Per thread (each worker loads this module): the module instance, or plain memory. */
function listSumsFor(nodeCount: number): ListSums {
  // A test may have turned WebAssembly off (or on again) since the last call.
  if (listSums === undefined || (listSums.sum !== undefined) !== wasmAllowed()) listSums = createListSums();
  if (listSums.slots.length < LIST + ENTRY * nodeCount) listSums.grow(nodeCount);
  return listSums;
}

function createListSums(): ListSums {
  const instance = instantiate(BH_LIST_WASM);
  if (instance !== undefined) {
    const sums: ListSums = {
      slots: new Float32Array(instance.memory.buffer),
      sum: instance.exports.sum as (count: number, points: number) => void,
      grow(entries: number): void {
        instance.reserve(4 * (LIST + ENTRY * entries));
        sums.slots = new Float32Array(instance.memory.buffer);
      },
    };
    return sums;
  }
  const sums: ListSums = {
    slots: new Float32Array(LIST),
    sum: undefined,
    grow(entries: number): void {
      sums.slots = new Float32Array(LIST + ENTRY * Math.max(entries, 2 * ((sums.slots.length - LIST) / ENTRY)));
    },
  };
  return sums;
}

/** The wasm loop in JavaScript: same float32 operations, same order. */
function sumListsJs(slots: Float32Array, count: number, points: number): void {
  const f = Math.fround;
  const end = LIST + ENTRY * count;
  for (let p = 0; p < points; p++) {
    const xi = slots[POINT_X + p] as number;
    const yi = slots[POINT_Y + p] as number;
    let fx = 0;
    let fy = 0;
    let q = 0;
    for (let e = LIST; e < end; e += ENTRY) {
      const dx = f(xi - (slots[e] as number));
      const dy = f(yi - (slots[e + 1] as number));
      const k = f(1 / f(f(1 + f(dx * dx)) + f(dy * dy)));
      const m = f((slots[e + 2] as number) * k);
      q = f(q + m);
      const mk = f(m * k);
      fx = f(fx + f(mk * dx));
      fy = f(fy + f(mk * dy));
    }
    slots[OUT_FX + p] = fx;
    slots[OUT_FY + p] = fy;
    slots[OUT_Q + p] = q;
  }
}

/** First group whose points include tree position `at`. */
function groupOf(groupStart: Int32Array, groupCount: number, at: number): number {
  let lo = 0;
  let hi = groupCount - 1;
  while (lo < hi) {
    const mid = (lo + hi + 1) >> 1;
    if ((groupStart[mid] as number) <= at) lo = mid;
    else hi = mid - 1;
  }
  return lo;
}

/**
 * Writes negF for the points tree.order[from .. to) and returns their sum of q_ij Z. A group cut
 * by a chunk boundary builds the same list in both chunks, so the result does not depend on
 * how the points are chunked or which thread runs a chunk.
 */
export function barnesHutRepulsion(
  y: Float64Array,
  tree: QuadTreeArrays,
  theta: number,
  from: number,
  to: number,
  negF: Float64Array,
): number {
  const { comX, comY, size, widthSq, skip, first: leafStart, order, nodeCount, groupCount, groupNode, groupStart } = tree;
  const theta2 = theta * theta;
  // Every node, or a leaf's points in its stead, enters a list at most once.
  const sums = listSumsFor(nodeCount + tree.order.length);
  const slots = sums.slots;
  let sumQ = 0;
  for (let g = groupOf(groupStart, groupCount, from); g < groupCount; g++) {
    const start = groupStart[g] as number;
    const end = groupStart[g + 1] as number;
    if (start >= to) break;
    let x0 = Infinity;
    let x1 = -Infinity;
    let y0 = Infinity;
    let y1 = -Infinity;
    for (let at = start; at < end; at++) {
      const i = order[at] as number;
      const px = y[2 * i] as number;
      const py = y[2 * i + 1] as number;
      if (px < x0) x0 = px;
      if (px > x1) x1 = px;
      if (py < y0) y0 = py;
      if (py > y1) y1 = py;
    }
    // Coordinates relative to the group's centre, for float32.
    const gx = (x0 + x1) / 2;
    const gy = (y0 + y1) / 2;
    const own = groupNode[g] as number;
    const ownEnd = skip[own] as number;
    let entry = LIST;
    let nd = 0;
    while (nd < nodeCount) {
      const next = skip[nd] as number;
      const cx = comX[nd] as number;
      const cy = comY[nd] as number;
      const wsq = widthSq[nd] as number;
      let summary = wsq === 0;
      if (!summary) {
        const ex = cx < x0 ? x0 - cx : cx > x1 ? cx - x1 : 0;
        const ey = cy < y0 ? y0 - cy : cy > y1 ? cy - y1 : 0;
        // Ancestors of the group and cells inside it hold its points: always opened.
        const holdsGroup = nd <= own ? next > own : nd < ownEnd;
        summary = !holdsGroup && wsq < theta2 * (ex * ex + ey * ey);
      }
      if (summary) {
        slots[entry] = cx - gx;
        slots[entry + 1] = cy - gy;
        slots[entry + 2] = size[nd] as number;
        entry += ENTRY;
        nd = next;
      } else if (next === nd + 1) {
        // An opened leaf: its points one by one.
        for (let at = leafStart[nd] as number, last = at + (size[nd] as number); at < last; at++) {
          const i = order[at] as number;
          slots[entry] = (y[2 * i] as number) - gx;
          slots[entry + 1] = (y[2 * i + 1] as number) - gy;
          slots[entry + 2] = 1;
          entry += ENTRY;
        }
        nd = next;
      } else {
        nd++;
      }
    }
    // This chunk's points of the group, BATCH at a time, padded to a multiple of eight.
    const count = (entry - LIST) / ENTRY;
    const first = start > from ? start : from;
    const last = end < to ? end : to;
    for (let batch = first; batch < last; batch += BATCH) {
      const points = Math.min(BATCH, last - batch);
      for (let p = 0; p < points; p++) {
        const i = order[batch + p] as number;
        slots[POINT_X + p] = (y[2 * i] as number) - gx;
        slots[POINT_Y + p] = (y[2 * i + 1] as number) - gy;
      }
      const padded = (points + 7) & ~7;
      for (let p = points; p < padded; p++) {
        slots[POINT_X + p] = 0;
        slots[POINT_Y + p] = 0;
      }
      if (sums.sum !== undefined) sums.sum(count, padded);
      else sumListsJs(slots, count, points);
      for (let p = 0; p < points; p++) {
        const i = order[batch + p] as number;
        negF[2 * i] = slots[OUT_FX + p] as number;
        negF[2 * i + 1] = slots[OUT_FY + p] as number;
        // The point's own leaf counted 1 (distance 0): leave the point itself out.
        sumQ += (slots[OUT_Q + p] as number) - 1;
      }
    }
  }
  return sumQ;
}
