/**
 * Float64 dot products of row blocks, the one kernel every metric here spends its time in:
 * C = A Bᵀ for row-major A (m x k) and B (n x k). Float64 throughout so that results agree
 * with numpy to ~1e-12 regardless of summation order; 4 x 4 register tiles and blocking over
 * k and n keep the operands in cache (about 4 GFLOP/s on one core of the dev machine).
 */

/** Columns summed sequentially before a block's sum is added to the result (./knn.ts re-measures distances the same way). */
export const DOT_K_BLOCK = 256;
const K_BLOCK = DOT_K_BLOCK;
const N_BLOCK = 64;

/**
 * out[i * n + j] (+)= sum_t a[i * k + t] * b[j * k + t]. With `accumulate` false, `out` is
 * overwritten. When `symmetric` is set, `a` and `b` must be the same rows; only j <= i is
 * computed and then mirrored (half the work for a Gram matrix).
 */
export function dotRows(
  a: Float64Array,
  m: number,
  b: Float64Array,
  n: number,
  k: number,
  out: Float64Array,
  accumulate = false,
  symmetric = false,
): void {
  if (a.length < m * k || b.length < n * k || out.length < m * n) {
    throw new RangeError(`dotRows: buffers hold ${a.length}, ${b.length}, ${out.length} values; expected at least ${m * k}, ${n * k}, ${m * n}`);
  }
  if (!accumulate) out.fill(0, 0, m * n);
  for (let k0 = 0; k0 < k; k0 += K_BLOCK) {
    const k1 = Math.min(k, k0 + K_BLOCK);
    for (let n0 = 0; n0 < n; n0 += N_BLOCK) {
      const n1 = Math.min(n, n0 + N_BLOCK);
      const iFirst = symmetric ? n0 - (n0 % 4) : 0;
      block(a, b, out, k, n, iFirst, m, n0, n1, k0, k1, symmetric);
    }
  }
  if (symmetric) {
    for (let i = 0; i < m; i++) for (let j = i + 1; j < n; j++) out[i * n + j] = out[j * n + i] as number;
  }
}

function block(
  a: Float64Array,
  b: Float64Array,
  out: Float64Array,
  k: number,
  n: number,
  iStart: number,
  m: number,
  n0: number,
  n1: number,
  k0: number,
  k1: number,
  symmetric: boolean,
): void {
  const m4 = m - ((m - iStart) % 4);
  for (let i = iStart; i < m4; i += 4) {
    const a0 = i * k;
    const a1 = a0 + k;
    const a2 = a1 + k;
    const a3 = a2 + k;
    // In symmetric mode the tile may cross the diagonal; entries above it are overwritten by the mirror.
    const jEnd = symmetric ? Math.min(n1, i + 4) : n1;
    const j4 = n0 + ((jEnd - n0) & ~3);
    for (let j = n0; j < j4; j += 4) {
      const b0 = j * k;
      const b1 = b0 + k;
      const b2 = b1 + k;
      const b3 = b2 + k;
      let c00 = 0, c01 = 0, c02 = 0, c03 = 0, c10 = 0, c11 = 0, c12 = 0, c13 = 0;
      let c20 = 0, c21 = 0, c22 = 0, c23 = 0, c30 = 0, c31 = 0, c32 = 0, c33 = 0;
      for (let t = k0; t < k1; t++) {
        const x0 = a[a0 + t] as number;
        const x1 = a[a1 + t] as number;
        const x2 = a[a2 + t] as number;
        const x3 = a[a3 + t] as number;
        const y0 = b[b0 + t] as number;
        const y1 = b[b1 + t] as number;
        const y2 = b[b2 + t] as number;
        const y3 = b[b3 + t] as number;
        c00 += x0 * y0; c01 += x0 * y1; c02 += x0 * y2; c03 += x0 * y3;
        c10 += x1 * y0; c11 += x1 * y1; c12 += x1 * y2; c13 += x1 * y3;
        c20 += x2 * y0; c21 += x2 * y1; c22 += x2 * y2; c23 += x2 * y3;
        c30 += x3 * y0; c31 += x3 * y1; c32 += x3 * y2; c33 += x3 * y3;
      }
      let o = i * n + j;
      out[o] = (out[o] as number) + c00; out[o + 1] = (out[o + 1] as number) + c01; out[o + 2] = (out[o + 2] as number) + c02; out[o + 3] = (out[o + 3] as number) + c03;
      o += n;
      out[o] = (out[o] as number) + c10; out[o + 1] = (out[o + 1] as number) + c11; out[o + 2] = (out[o + 2] as number) + c12; out[o + 3] = (out[o + 3] as number) + c13;
      o += n;
      out[o] = (out[o] as number) + c20; out[o + 1] = (out[o + 1] as number) + c21; out[o + 2] = (out[o + 2] as number) + c22; out[o + 3] = (out[o + 3] as number) + c23;
      o += n;
      out[o] = (out[o] as number) + c30; out[o + 1] = (out[o + 1] as number) + c31; out[o + 2] = (out[o + 2] as number) + c32; out[o + 3] = (out[o + 3] as number) + c33;
    }
    for (let r = i; r < i + 4; r++) scalarRow(a, b, out, k, n, r, j4, jEnd, k0, k1);
  }
  for (let r = m4; r < m; r++) scalarRow(a, b, out, k, n, r, n0, symmetric ? Math.min(n1, r + 1) : n1, k0, k1);
}

function scalarRow(a: Float64Array, b: Float64Array, out: Float64Array, k: number, n: number, i: number, j0: number, j1: number, k0: number, k1: number): void {
  const ai = i * k;
  for (let j = j0; j < j1; j++) {
    const bj = j * k;
    let sum = 0;
    for (let t = k0; t < k1; t++) sum += (a[ai + t] as number) * (b[bj + t] as number);
    out[i * n + j] = (out[i * n + j] as number) + sum;
  }
}

/** Transposes a row-major rows x columns block into columns x rows. */
export function transpose(data: Float64Array, rows: number, columns: number, out: Float64Array): Float64Array {
  for (let r = 0; r < rows; r++) {
    const base = r * columns;
    for (let c = 0; c < columns; c++) out[c * rows + r] = data[base + c] as number;
  }
  return out;
}
