/**
 * Trustworthiness of an embedding, a port of sklearn.manifold.trustworthiness (1.2):
 *   T(k) = 1 - 2 / (n k (2n - 3k - 1)) * sum_i sum_{j in U_k(i)} max(0, r(i, j) - k)
 * where U_k(i) are the k nearest neighbours of i in the embedding and r(i, j) is the rank of j
 * among i's neighbours in the input space (1 = nearest). Ranks break distance ties by index,
 * as a stable argsort would. Memory is O(n) (sklearn builds n x n matrices); time O(n^2 (dim + k)).
 */
import { heapAccepts, heapClear, heapReplaceTop, heapSortAscending } from './knn-heap.js';

export function trustworthiness(
  x: Float32Array | Float64Array,
  n: number,
  dim: number,
  embedded: Float32Array | Float64Array,
  k = 10,
  embeddedDim = 2,
): number {
  if (x.length !== n * dim) throw new RangeError(`x has ${x.length} values, expected n * dim = ${n * dim}`);
  if (embedded.length !== n * embeddedDim) {
    throw new RangeError(`embedded has ${embedded.length} values, expected n * ${embeddedDim} = ${n * embeddedDim}`);
  }
  if (!Number.isInteger(k) || k < 1 || k >= n / 2) {
    throw new RangeError(`k must be an integer in [1, n / 2 = ${n / 2}), got ${k}`);
  }
  const row = new Float64Array(n);
  const heapD = new Float64Array(k);
  const heapI = new Int32Array(k);
  let penalty = 0;
  for (let i = 0; i < n; i++) {
    // k nearest in the embedding (the point itself excluded).
    heapClear(heapD, heapI, 0, k);
    for (let j = 0; j < n; j++) {
      if (j === i) continue;
      let s = 0;
      for (let d = 0; d < embeddedDim; d++) {
        const t = (embedded[i * embeddedDim + d] as number) - (embedded[j * embeddedDim + d] as number);
        s += t * t;
      }
      if (heapAccepts(heapD, heapI, 0, s, j)) heapReplaceTop(heapD, heapI, 0, k, s, j);
    }
    heapSortAscending(heapD, heapI, 0, k);
    // Input-space distances from i.
    for (let j = 0; j < n; j++) {
      if (j === i) {
        row[j] = Infinity;
        continue;
      }
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const t = (x[i * dim + d] as number) - (x[j * dim + d] as number);
        s += t * t;
      }
      row[j] = s;
    }
    for (let t = 0; t < k; t++) {
      const j = heapI[t] as number;
      const dj = row[j] as number;
      let rank = 1;
      for (let l = 0; l < n; l++) {
        const dl = row[l] as number;
        if (dl < dj || (dl === dj && l < j)) rank++;
      }
      if (rank > k) penalty += rank - k;
    }
  }
  return 1 - penalty * (2 / (n * k * (2 * n - 3 * k - 1)));
}
