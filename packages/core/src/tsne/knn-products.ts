/**
 * Exact k nearest neighbours from matrix products. onnxruntime's float32 Gemm (MLAS, ~150
 * GFLOP/s on this 2-core machine against ~1 for a JavaScript loop) scores every pair and TopK
 * keeps each row's best `count` candidates; their distances are then recomputed in float64
 * exactly as the brute-force search computes them (knn-exact.ts), and a bound on float32
 * rounding proves that no point outside the candidates can be among the k nearest. Rows the
 * bound cannot settle (ties at the boundary, many duplicates, outliers that inflate the bound)
 * are searched by brute force. The lists are therefore the brute-force lists bit for bit, on
 * any CPU and for any thread count, however onnxruntime's kernels round.
 *
 * Measured (bench/tsne, 256 dimensions, two threads, the whole neighbour stage): 5,000 points
 * 0.3 s, 20,000 points 1.5 s, 73,000 points 13-16 s, against 0.7 s, 3.3 s and 43 s for the
 * approximate search and 1.8 s at 5,000 for the brute force (docs/tsne.md).
 */
import { MatrixKernels } from '../pca/kernels.js';
import { sharedFloat32, sharedFloat64, sharedInt32 } from './buffers.js';
import type { Executor } from './executor.js';

/**
 * Bytes of the score block (rows x n float32) onnxruntime materialises per call: small blocks
 * stay in its arena and in cache (5,000 points: 4 MiB blocks 0.12 s, 64 MiB 0.17 s), but a
 * block of fewer than MIN_BLOCK_ROWS rows slows the products down.
 */
const BLOCK_BYTES = 8 * 2 ** 20;
const MIN_BLOCK_ROWS = 64;
const UNIT_ROUNDOFF = 2 ** -24;

/** Candidates kept per row beyond k + 1 (the row itself is usually its own best). */
export function candidateCount(n: number, k: number): number {
  return Math.min(n, k + 1 + Math.max(16, Math.ceil(k / 4)));
}

export interface ProductKnnResult {
  indices: Int32Array;
  sqDistances: Float32Array;
  /** Rows whose lists needed the full brute-force search. */
  scannedRows: number;
}

export async function productKnn(
  executor: Executor,
  data: Float32Array,
  n: number,
  dim: number,
  k: number,
  signal: AbortSignal | undefined,
): Promise<ProductKnnResult> {
  const indices = sharedInt32(n * k);
  const sqDistances = sharedFloat32(n * k);
  const count = candidateCount(n, k);

  // Centred rows keep the products' magnitudes, hence their rounding, at the data's spread
  // rather than its offset from the origin; distances do not change.
  const mean = new Float64Array(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) + (data[i * dim + d] as number);
  for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) / n;
  const centred = new Float32Array(n * dim);
  for (let e = 0; e < n * dim; e++) centred[e] = (data[e] as number) - (mean[e % dim] as number);
  const normSq = new Float64Array(n);
  const norms32 = new Float32Array(n);
  let maxNormSq = 0;
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let d = i * dim, end = d + dim; d < end; d++) s += (centred[d] as number) ** 2;
    normSq[i] = s;
    norms32[i] = s;
    if (s > maxNormSq) maxNormSq = s;
  }
  const maxNorm = Math.sqrt(maxNormSq);

  // A computed score norms32[j] - 2 c_i.c_j is within `tolerance` of |c_j|^2 - 2 c_i.c_j for
  // the rounded centred rows: a dot product of dim float32 terms in any order and with FMA is
  // within (dim + 2) u sum |c_i||c_j| (Higham, Thm 3.5), plus the norm's and the final
  // addition's rounding. Centring rounded each coordinate by u relatively, which moves a
  // squared distance by at most 8 u maxNorm^2. Doubled for margin (and float64's own rounding).
  const gemmFactor = 2 * (dim + 8) * UNIT_ROUNDOFF;
  const centringError = 16 * UNIT_ROUNDOFF * maxNormSq;

  const candidates = sharedInt32(n * count);
  const outsideBound = sharedFloat64(n);
  const kernels = new MatrixKernels({ threads: executor.threads });
  try {
    const blockRows = Math.min(n, Math.max(MIN_BLOCK_ROWS, Math.floor(BLOCK_BYTES / (4 * n))));
    for (let r0 = 0; r0 < n; r0 += blockRows) {
      signal?.throwIfAborted();
      const rows = Math.min(blockRows, n - r0);
      const { scores, indices: found } = await kernels.smallestScores(centred.subarray(r0 * dim, (r0 + rows) * dim), rows, centred, n, dim, norms32, count);
      for (let t = 0; t < rows; t++) {
        const i = r0 + t;
        for (let c = 0; c < count; c++) candidates[i * count + c] = found[t * count + c] as number;
        if (count === n) {
          outsideBound[i] = Infinity;
          continue;
        }
        // Every other point j scored at least the last candidate's score, so its squared
        // distance |c_i|^2 + score_j is at least this.
        const tolerance = 2 * (gemmFactor * (2 * Math.sqrt(normSq[i] as number) * maxNorm + maxNormSq) + centringError);
        outsideBound[i] = (normSq[i] as number) + (scores[t * count + count - 1] as number) - tolerance;
      }
    }
  } finally {
    await kernels.dispose();
  }

  const failed = new Uint8Array(new SharedArrayBuffer(n));
  await executor.run({ kind: 'knn-candidates', data, n, dim, k, count, candidates, outsideBound, outIdx: indices, outSqDist: sqDistances, failed }, signal);
  let scannedRows = 0;
  for (let i = 0; i < n; i++) scannedRows += failed[i] as number;
  if (scannedRows > 0) {
    const rows = sharedInt32(scannedRows);
    for (let i = 0, at = 0; i < n; i++) if (failed[i]) rows[at++] = i;
    await executor.run({ kind: 'knn-exact', data, n, dim, k, rows, outIdx: indices, outSqDist: sqDistances }, signal);
  }
  return { indices, sqDistances, scannedRows };
}
