/**
 * Barnes-Hut repulsive forces: a cell whose larger side is below theta times its distance from
 * the point stands in for all its points at their centre of mass (sklearn's criterion,
 * squared_max_width / d^2 < theta^2). Leaves store width 0, so they are always used as they
 * are, except the leaf at the point's own position (distance 0): there the point itself is
 * left out and its exact duplicates count q = 1 each with no force. (sklearn's quadtree drops
 * duplicates from Z altogether, which makes its KL wrong, even negative, on data with repeats.)
 */
import type { QuadTreeArrays } from './quadtree.js';

/** Writes negF for the points tree.order[from .. to) and returns their sum of q_ij Z. */
export function barnesHutRepulsion(
  y: Float64Array,
  tree: QuadTreeArrays,
  theta: number,
  from: number,
  to: number,
  negF: Float64Array,
): number {
  const { comX, comY, size, widthSq, skip, order, nodeCount } = tree;
  const theta2 = theta * theta;
  let sumQ = 0;
  for (let at = from; at < to; at++) {
    const i = order[at] as number;
    const xi = y[2 * i] as number;
    const yi = y[2 * i + 1] as number;
    let fx = 0;
    let fy = 0;
    let q = 0;
    let nd = 0;
    while (nd < nodeCount) {
      const dx = xi - (comX[nd] as number);
      const dy = yi - (comY[nd] as number);
      const d2 = dx * dx + dy * dy;
      if ((widthSq[nd] as number) < theta2 * d2) {
        const k = 1 / (1 + d2);
        const m = (size[nd] as number) * k;
        q += m;
        fx += m * k * dx;
        fy += m * k * dy;
        nd = skip[nd] as number;
      } else {
        // A leaf the point sits in: the others in it are duplicates (or, at the depth limit,
        // closer than float64 can split), at distance 0.
        if ((skip[nd] as number) === nd + 1) q += (size[nd] as number) - 1;
        nd++;
      }
    }
    negF[2 * i] = fx;
    negF[2 * i + 1] = fy;
    sumQ += q;
  }
  return sumQ;
}
