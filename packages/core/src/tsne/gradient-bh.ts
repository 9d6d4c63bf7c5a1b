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
 * shared by up to GROUP_SIZE points and the per-point sum runs at ~2.5 ns an entry: 1.6 ms. A
 * cell accepted for the group passes the criterion for each of its points (their d is at least
 * the box distance), so the lists are a little longer than per-point walks would give and the
 * forces *more* accurate (relative error of the repulsion against exact, final 5,000-point map:
 * 2.8e-3 against 9.0e-3 per point).
 *
 * Leaves always enter the list (a leaf of one point, or of coincident points, has width 0).
 * A cell holding a point of the group is never accepted as a summary (for theta < 1.4 the
 * criterion already refuses it; the check keeps that true for any theta), so each point meets
 * its own leaf exactly once, at distance 0 (coincident points keep the exact position; at the
 * depth limit the distance is far below float64's resolution of 1 + d^2): it contributes 1 to
 * q and no force, and subtracting 1 leaves the point itself out while its exact duplicates
 * count q = 1 each. (sklearn's quadtree drops duplicates from Z altogether, which makes its KL
 * wrong, even negative, on data with repeats.)
 */
import type { QuadTreeArrays } from './quadtree.js';

interface ListScratch {
  x: Float64Array;
  y: Float64Array;
  size: Float64Array;
}
let scratch: ListScratch | undefined;
/** Per-thread interaction list, as long as the tree (a list never holds a node twice). */
function listScratch(nodeCount: number): ListScratch {
  if (scratch === undefined || scratch.x.length < nodeCount) {
    const length = Math.max(nodeCount, 2 * (scratch?.x.length ?? 0));
    scratch = { x: new Float64Array(length), y: new Float64Array(length), size: new Float64Array(length) };
  }
  return scratch;
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
  const { comX, comY, size, widthSq, skip, order, nodeCount, groupCount, groupNode, groupStart } = tree;
  const theta2 = theta * theta;
  const list = listScratch(nodeCount);
  const lx = list.x;
  const ly = list.y;
  const ls = list.size;
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
    const own = groupNode[g] as number;
    const ownEnd = skip[own] as number;
    let count = 0;
    let nd = 0;
    while (nd < nodeCount) {
      const next = skip[nd] as number;
      const cx = comX[nd] as number;
      const cy = comY[nd] as number;
      if (next === nd + 1) {
        lx[count] = cx;
        ly[count] = cy;
        ls[count++] = size[nd] as number;
        nd = next;
        continue;
      }
      const ex = cx < x0 ? x0 - cx : cx > x1 ? cx - x1 : 0;
      const ey = cy < y0 ? y0 - cy : cy > y1 ? cy - y1 : 0;
      // Ancestors of the group and cells inside it hold its points: always opened.
      const holdsGroup = nd <= own ? next > own : nd < ownEnd;
      if (!holdsGroup && (widthSq[nd] as number) < theta2 * (ex * ex + ey * ey)) {
        lx[count] = cx;
        ly[count] = cy;
        ls[count++] = size[nd] as number;
        nd = next;
      } else {
        nd++;
      }
    }
    const first = start > from ? start : from;
    const last = end < to ? end : to;
    // Two points at a time: each list entry is loaded once for both, and the two independent
    // divisions overlap.
    let at = first;
    for (; at + 1 < last; at += 2) {
      const i = order[at] as number;
      const j = order[at + 1] as number;
      const xi = y[2 * i] as number;
      const yi = y[2 * i + 1] as number;
      const xj = y[2 * j] as number;
      const yj = y[2 * j + 1] as number;
      let fxi = 0;
      let fyi = 0;
      let qi = 0;
      let fxj = 0;
      let fyj = 0;
      let qj = 0;
      for (let e = 0; e < count; e++) {
        const cx = lx[e] as number;
        const cy = ly[e] as number;
        const s = ls[e] as number;
        const dxi = xi - cx;
        const dyi = yi - cy;
        const dxj = xj - cx;
        const dyj = yj - cy;
        const ki = 1 / (1 + dxi * dxi + dyi * dyi);
        const kj = 1 / (1 + dxj * dxj + dyj * dyj);
        const mi = s * ki;
        const mj = s * kj;
        qi += mi;
        qj += mj;
        const mki = mi * ki;
        const mkj = mj * kj;
        fxi += mki * dxi;
        fyi += mki * dyi;
        fxj += mkj * dxj;
        fyj += mkj * dyj;
      }
      negF[2 * i] = fxi;
      negF[2 * i + 1] = fyi;
      negF[2 * j] = fxj;
      negF[2 * j + 1] = fyj;
      // Each point's own leaf counted 1 (distance 0): leave the point itself out.
      sumQ += qi - 1;
      sumQ += qj - 1;
    }
    for (; at < last; at++) {
      const i = order[at] as number;
      const xi = y[2 * i] as number;
      const yi = y[2 * i + 1] as number;
      let fx = 0;
      let fy = 0;
      let q = 0;
      for (let e = 0; e < count; e++) {
        const dx = xi - (lx[e] as number);
        const dy = yi - (ly[e] as number);
        const k = 1 / (1 + dx * dx + dy * dy);
        const m = (ls[e] as number) * k;
        q += m;
        fx += m * k * dx;
        fy += m * k * dy;
      }
      negF[2 * i] = fx;
      negF[2 * i + 1] = fy;
      sumQ += q - 1;
    }
  }
  return sumQ;
}
