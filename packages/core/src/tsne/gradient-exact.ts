/**
 * Exact repulsive forces, all pairs: negF_i = sum_{j != i} (q_ij Z)^2 (y_i - y_j) and the
 * normaliser's share sum_{j != i} q_ij Z. O(n^2) per step; for small maps and as the reference
 * the approximations are tested against.
 */

/** Writes negF for rows [from, to) and returns their sum of q_ij Z. */
export function exactRepulsion(y: Float64Array, n: number, from: number, to: number, negF: Float64Array): number {
  let sumQ = 0;
  for (let i = from; i < to; i++) {
    const xi = y[2 * i] as number;
    const yi = y[2 * i + 1] as number;
    let fx = 0;
    let fy = 0;
    let rowQ = 0;
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      const dx = xi - (y[2 * j] as number);
      const dy = yi - (y[2 * j + 1] as number);
      const q = 1 / (1 + dx * dx + dy * dy);
      rowQ += q;
      const q2 = q * q;
      fx += q2 * dx;
      fy += q2 * dy;
    }
    negF[2 * i] = fx;
    negF[2 * i + 1] = fy;
    sumQ += rowQ;
  }
  return sumQ;
}
