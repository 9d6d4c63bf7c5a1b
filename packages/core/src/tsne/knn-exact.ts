/**
 * Exact k nearest neighbours by blocked brute force: squared Euclidean distances accumulated in
 * float64 from the float32 input, a bounded heap per query. Each query row is independent, so
 * worker threads split the rows; a block of queries sweeps the reference points in tiles that
 * stay in cache.
 */
import { heapAccepts, heapClear, heapReplaceTop, heapSortAscending } from './knn-heap.js';

const QUERY_BLOCK = 16;
const REFERENCE_BLOCK = 512;

/** Squared distance of rows a and b, summed in float64 in dimension order (as exactKnnRows sums). */
function sqDistance(data: Float32Array, dim: number, a: number, b: number): number {
  const ao = a * dim;
  const bo = b * dim;
  let s = 0;
  for (let d = 0; d < dim; d++) {
    const t = (data[ao + d] as number) - (data[bo + d] as number);
    s += t * t;
  }
  return s;
}

/**
 * The k nearest of rows [rowStart, rowEnd) among given candidates (row i's `count` candidates
 * at candidates[i * count ...], the row itself possibly among them), with distances computed as
 * exactKnnRows computes them. A row's list is kept only when its k-th distance is below
 * outsideBound[i], a lower bound on the distance of every point that is not a candidate: then
 * it is exactly exactKnnRows' list. Otherwise failed[i] is set and the row is left to a full
 * search. Returns the number of failed rows.
 */
export function candidateKnnRows(
  data: Float32Array,
  dim: number,
  k: number,
  count: number,
  candidates: Int32Array,
  outsideBound: Float64Array,
  rowStart: number,
  rowEnd: number,
  outIdx: Int32Array,
  outSqDist: Float32Array,
  failed: Uint8Array,
): number {
  const heapD = new Float64Array(k);
  const heapI = new Int32Array(k);
  let failures = 0;
  for (let q = rowStart; q < rowEnd; q++) {
    heapClear(heapD, heapI, 0, k);
    const qo = q * dim;
    let c = q * count;
    const end = c + count;
    // Four candidates per pass share the loads of the query row (sums as in sqDistance).
    for (; c + 4 <= end; c += 4) {
      const r0 = candidates[c] as number;
      const r1 = candidates[c + 1] as number;
      const r2 = candidates[c + 2] as number;
      const r3 = candidates[c + 3] as number;
      const o0 = r0 * dim;
      const o1 = r1 * dim;
      const o2 = r2 * dim;
      const o3 = r3 * dim;
      let s0 = 0;
      let s1 = 0;
      let s2 = 0;
      let s3 = 0;
      for (let d = 0; d < dim; d++) {
        const x = data[qo + d] as number;
        const t0 = x - (data[o0 + d] as number);
        const t1 = x - (data[o1 + d] as number);
        const t2 = x - (data[o2 + d] as number);
        const t3 = x - (data[o3 + d] as number);
        s0 += t0 * t0;
        s1 += t1 * t1;
        s2 += t2 * t2;
        s3 += t3 * t3;
      }
      if (r0 !== q && heapAccepts(heapD, heapI, 0, s0, r0)) heapReplaceTop(heapD, heapI, 0, k, s0, r0);
      if (r1 !== q && heapAccepts(heapD, heapI, 0, s1, r1)) heapReplaceTop(heapD, heapI, 0, k, s1, r1);
      if (r2 !== q && heapAccepts(heapD, heapI, 0, s2, r2)) heapReplaceTop(heapD, heapI, 0, k, s2, r2);
      if (r3 !== q && heapAccepts(heapD, heapI, 0, s3, r3)) heapReplaceTop(heapD, heapI, 0, k, s3, r3);
    }
    for (; c < end; c++) {
      const r = candidates[c] as number;
      if (r === q) continue;
      const s = sqDistance(data, dim, q, r);
      if (heapAccepts(heapD, heapI, 0, s, r)) heapReplaceTop(heapD, heapI, 0, k, s, r);
    }
    // NaN bounds (overflow in the products) fail too.
    if (!((heapD[0] as number) < (outsideBound[q] as number))) {
      failed[q] = 1;
      failures++;
      continue;
    }
    heapSortAscending(heapD, heapI, 0, k);
    for (let t = 0; t < k; t++) {
      outIdx[q * k + t] = heapI[t] as number;
      outSqDist[q * k + t] = heapD[t] as number;
    }
  }
  return failures;
}

/**
 * Writes the k nearest neighbours (excluding the point itself) of query rows [rowStart, rowEnd)
 * into outIdx / outSqDist (n x k, ascending distance, ties by index).
 */
export function exactKnnRows(
  data: Float32Array,
  n: number,
  dim: number,
  k: number,
  rowStart: number,
  rowEnd: number,
  outIdx: Int32Array,
  outSqDist: Float32Array,
): void {
  const heapD = new Float64Array(QUERY_BLOCK * k);
  const heapI = new Int32Array(QUERY_BLOCK * k);
  for (let q0 = rowStart; q0 < rowEnd; q0 += QUERY_BLOCK) {
    const q1 = Math.min(q0 + QUERY_BLOCK, rowEnd);
    for (let q = q0; q < q1; q++) heapClear(heapD, heapI, (q - q0) * k, k);
    for (let r0 = 0; r0 < n; r0 += REFERENCE_BLOCK) {
      const r1 = Math.min(r0 + REFERENCE_BLOCK, n);
      for (let q = q0; q < q1; q++) {
        const base = (q - q0) * k;
        const qo = q * dim;
        // Four references per pass share the loads of the query row.
        let r = r0;
        for (; r + 4 <= r1; r += 4) {
          const o0 = r * dim;
          const o1 = o0 + dim;
          const o2 = o1 + dim;
          const o3 = o2 + dim;
          let s0 = 0;
          let s1 = 0;
          let s2 = 0;
          let s3 = 0;
          for (let d = 0; d < dim; d++) {
            const x = data[qo + d] as number;
            const t0 = x - (data[o0 + d] as number);
            const t1 = x - (data[o1 + d] as number);
            const t2 = x - (data[o2 + d] as number);
            const t3 = x - (data[o3 + d] as number);
            s0 += t0 * t0;
            s1 += t1 * t1;
            s2 += t2 * t2;
            s3 += t3 * t3;
          }
          if (r !== q && heapAccepts(heapD, heapI, base, s0, r)) heapReplaceTop(heapD, heapI, base, k, s0, r);
          if (r + 1 !== q && heapAccepts(heapD, heapI, base, s1, r + 1)) heapReplaceTop(heapD, heapI, base, k, s1, r + 1);
          if (r + 2 !== q && heapAccepts(heapD, heapI, base, s2, r + 2)) heapReplaceTop(heapD, heapI, base, k, s2, r + 2);
          if (r + 3 !== q && heapAccepts(heapD, heapI, base, s3, r + 3)) heapReplaceTop(heapD, heapI, base, k, s3, r + 3);
        }
        for (; r < r1; r++) {
          if (r === q) continue;
          const s = sqDistance(data, dim, q, r);
          if (heapAccepts(heapD, heapI, base, s, r)) heapReplaceTop(heapD, heapI, base, k, s, r);
        }
      }
    }
    for (let q = q0; q < q1; q++) {
      const base = (q - q0) * k;
      heapSortAscending(heapD, heapI, base, k);
      for (let t = 0; t < k; t++) {
        outIdx[q * k + t] = heapI[base + t] as number;
        outSqDist[q * k + t] = heapD[base + t] as number;
      }
    }
  }
}
