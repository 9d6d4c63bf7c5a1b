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
 * Squared distances of query row offset `qo` to the rows at offsets o0..o3 into `out`: four
 * references per pass share the loads of the query row; each sum runs in dimension order, as in
 * sqDistance.
 */
function sqDistances4(data: Float32Array, dim: number, qo: number, o0: number, o1: number, o2: number, o3: number, out: Float64Array): void {
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
  out[0] = s0;
  out[1] = s1;
  out[2] = s2;
  out[3] = s3;
}

/** Offers (s, r) to heap `base` of query q (never the query itself). */
function offer(heapD: Float64Array, heapI: Int32Array, base: number, k: number, q: number, s: number, r: number): void {
  if (r !== q && heapAccepts(heapD, heapI, base, s, r)) heapReplaceTop(heapD, heapI, base, k, s, r);
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
  const sums = new Float64Array(4);
  let failures = 0;
  for (let q = rowStart; q < rowEnd; q++) {
    heapClear(heapD, heapI, 0, k);
    const qo = q * dim;
    let c = q * count;
    const end = c + count;
    for (; c + 4 <= end; c += 4) {
      const r0 = candidates[c] as number;
      const r1 = candidates[c + 1] as number;
      const r2 = candidates[c + 2] as number;
      const r3 = candidates[c + 3] as number;
      sqDistances4(data, dim, qo, r0 * dim, r1 * dim, r2 * dim, r3 * dim, sums);
      offer(heapD, heapI, 0, k, q, sums[0] as number, r0);
      offer(heapD, heapI, 0, k, q, sums[1] as number, r1);
      offer(heapD, heapI, 0, k, q, sums[2] as number, r2);
      offer(heapD, heapI, 0, k, q, sums[3] as number, r3);
    }
    for (; c < end; c++) {
      const r = candidates[c] as number;
      offer(heapD, heapI, 0, k, q, sqDistance(data, dim, q, r), r);
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
  const sums = new Float64Array(4);
  for (let q0 = rowStart; q0 < rowEnd; q0 += QUERY_BLOCK) {
    const q1 = Math.min(q0 + QUERY_BLOCK, rowEnd);
    for (let q = q0; q < q1; q++) heapClear(heapD, heapI, (q - q0) * k, k);
    for (let r0 = 0; r0 < n; r0 += REFERENCE_BLOCK) {
      const r1 = Math.min(r0 + REFERENCE_BLOCK, n);
      for (let q = q0; q < q1; q++) {
        const base = (q - q0) * k;
        const qo = q * dim;
        let r = r0;
        for (; r + 4 <= r1; r += 4) {
          const o0 = r * dim;
          sqDistances4(data, dim, qo, o0, o0 + dim, o0 + 2 * dim, o0 + 3 * dim, sums);
          offer(heapD, heapI, base, k, q, sums[0] as number, r);
          offer(heapD, heapI, base, k, q, sums[1] as number, r + 1);
          offer(heapD, heapI, base, k, q, sums[2] as number, r + 2);
          offer(heapD, heapI, base, k, q, sums[3] as number, r + 3);
        }
        for (; r < r1; r++) offer(heapD, heapI, base, k, q, sqDistance(data, dim, q, r), r);
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
