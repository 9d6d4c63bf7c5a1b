/**
 * Exact k nearest neighbours (self excluded) by cosine or euclidean distance, computed a
 * block of query images at a time against all images, so memory is one block of distances
 * (queries x N) plus the features, never N x N. Neighbours are sorted by distance, ties by
 * the lower row index, so results do not depend on block sizes.
 *
 * On onnxruntime (./kernel.ts) the distances come from float32 products, and every image whose
 * float32 distance lies within the proven rounding bound of the k-th is measured again in
 * float64: the neighbour lists are those of the float64 kernel.
 */
import { DOT_K_BLOCK, dotRows } from './dot.js';
import { readRowsInto, toSource, type FeatureInput, type FeatureSource } from './features.js';
import { columnsPerBlock } from './gram.js';
import { chooseKernel, float32DotBound, openMatrixKernels, type Kernel, type MatrixKernels } from './kernel.js';

export const KNN_DISTANCES = ['cosine', 'euclidean'] as const;
export type KnnDistance = (typeof KNN_DISTANCES)[number];

export interface KnnOptions {
  /** Neighbours per image. Default 10. */
  readonly k?: number;
  /** Default 'cosine' (1 - cosine similarity); 'euclidean' ranks by squared distance, the same order. */
  readonly distance?: KnnDistance;
  /** Rows whose neighbours are wanted; every row when omitted. Neighbours come from all rows. */
  readonly queries?: Int32Array;
  /** Most bytes of working memory. Default 1 GiB. */
  readonly memoryBytes?: number;
  /**
   * 'auto' (default), 'onnxruntime' or 'float64' (./kernel.ts). onnxruntime is used only when
   * the layer fits in memory; the lists are the same either way.
   */
  readonly kernel?: Kernel;
  /** Names the layer in errors. */
  readonly label?: string;
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export const DEFAULT_K = 10;

export function parseKnnDistance(value: string): KnnDistance {
  const found = KNN_DISTANCES.find((d) => d === value);
  if (!found) throw new RangeError(`Unknown kNN distance "${value}"; expected one of ${KNN_DISTANCES.join(', ')}`);
  return found;
}

export function checkK(k: number, rows: number): void {
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`k must be a positive integer, got ${k}`);
  if (k > rows - 1) throw new RangeError(`k = ${k} neighbours need at least ${k + 1} images, got ${rows}`);
}

/** Squared norms of every row, read in blocks of rows. */
async function squaredNorms(source: FeatureSource, label: string, memoryBytes: number): Promise<Float64Array> {
  const n = source.rows;
  const d = source.columns;
  const norms = new Float64Array(n);
  const width = columnsPerBlock(Math.min(n, 1024), d, memoryBytes / 8);
  const blockRows = Math.max(1, Math.min(n, Math.floor(memoryBytes / 8 / (8 * width))));
  const block = new Float64Array(blockRows * width);
  for (let c0 = 0; c0 < d; c0 += width) {
    const c1 = Math.min(d, c0 + width);
    for (let r0 = 0; r0 < n; r0 += blockRows) {
      const count = Math.min(blockRows, n - r0);
      await readRowsInto(source, null, r0, count, c0, c1, block, label);
      const w = c1 - c0;
      for (let r = 0; r < count; r++) {
        let sum = 0;
        for (let c = 0; c < w; c++) sum += (block[r * w + c] as number) ** 2;
        norms[r0 + r] = (norms[r0 + r] as number) + sum;
      }
    }
  }
  return norms;
}

/** For each query row, the indices of its k nearest other rows: a queries x k row-major array. */
export async function nearestNeighbors(input: FeatureInput, options: KnnOptions = {}): Promise<Int32Array> {
  const label = options.label ?? 'features';
  const source = toSource(input, label);
  const { k = DEFAULT_K, distance = 'cosine', memoryBytes = 2 ** 30, signal } = options;
  parseKnnDistance(distance);
  const n = source.rows;
  const d = source.columns;
  checkK(k, n);
  const queries = options.queries ?? Int32Array.from({ length: n }, (_, i) => i);
  for (const q of queries) if (!(q >= 0 && q < n)) throw new RangeError(`${label}: query row ${q} outside [0, ${n})`);

  // Either all features in memory once (the usual case: PCA scores), or re-read in column blocks per query block.
  // onnxruntime also needs them as float32, transposed, and a float32 block of distances.
  const kernel = chooseKernel(options.kernel, queries.length * n * d);
  const onnx = kernel === 'onnxruntime' && n * d * 12 <= memoryBytes / 2;
  const resident = onnx || n * d * 8 <= memoryBytes / 2;
  let features: Float64Array | undefined;
  let norms: Float64Array;
  if (resident) {
    features = new Float64Array(n * d);
    await readRowsInto(source, null, 0, n, 0, d, features, label);
    norms = new Float64Array(n);
    for (let r = 0; r < n; r++) {
      let sum = 0;
      for (let c = 0; c < d; c++) sum += (features[r * d + c] as number) ** 2;
      norms[r] = sum;
    }
  } else {
    norms = await squaredNorms(source, label, memoryBytes);
  }
  const inverseNorms = new Float64Array(n);
  if (distance === 'cosine') {
    for (let r = 0; r < n; r++) {
      if (!((norms[r] as number) > 0)) throw new RangeError(`${label}: row ${r} is all zeros, so its cosine distance to any image is undefined; use euclidean distance or drop that image`);
      inverseNorms[r] = 1 / Math.sqrt(norms[r] as number);
    }
  }

  if (features && onnx) {
    const kernels = openMatrixKernels();
    try {
      return await onnxNeighbors(features, n, d, k, distance, queries, norms, inverseNorms, memoryBytes, kernels, signal, options.onProgress);
    } finally {
      await kernels.dispose();
    }
  }
  if (features && options.queries === undefined) return allNeighbors(features, n, d, k, distance, norms, inverseNorms, signal, options.onProgress);

  const budgetForDots = resident ? memoryBytes / 2 : memoryBytes / 4;
  const queryBlock = Math.max(1, Math.min(queries.length, 1024, Math.floor(budgetForDots / (8 * n))));
  const dots = new Float64Array(queryBlock * n);
  const queryRows = new Float64Array(resident ? queryBlock * d : 0);
  const width = resident ? d : columnsPerBlock(n + queryBlock, d, memoryBytes / 4);
  const chunk = resident ? new Float64Array(0) : new Float64Array(n * width);
  const chunkQueries = resident ? new Float64Array(0) : new Float64Array(queryBlock * width);
  const out = new Int32Array(queries.length * k);
  const bestDistance = new Float64Array(k);
  const bestIndex = new Int32Array(k);
  const blocks = Math.ceil(queries.length / queryBlock);

  for (let q0 = 0, blockNumber = 0; q0 < queries.length; q0 += queryBlock, blockNumber++) {
    signal?.throwIfAborted();
    const count = Math.min(queryBlock, queries.length - q0);
    if (features) {
      for (let i = 0; i < count; i++) queryRows.set(features.subarray((queries[q0 + i] as number) * d, ((queries[q0 + i] as number) + 1) * d), i * d);
      dotRows(queryRows, count, features, n, d, dots);
    } else {
      dots.fill(0);
      for (let c0 = 0; c0 < d; c0 += width) {
        const c1 = Math.min(d, c0 + width);
        const w = c1 - c0;
        await readRowsInto(source, null, 0, n, c0, c1, chunk, label);
        for (let i = 0; i < count; i++) chunkQueries.set(chunk.subarray((queries[q0 + i] as number) * w, ((queries[q0 + i] as number) + 1) * w), i * w);
        dotRows(chunkQueries, count, chunk, n, w, dots, true);
      }
    }
    for (let i = 0; i < count; i++) {
      const self = queries[q0 + i] as number;
      const row = i * n;
      bestDistance.fill(Infinity);
      bestIndex.fill(-1);
      const selfNorm = norms[self] as number;
      const selfInverse = inverseNorms[self] as number;
      for (let j = 0; j < n; j++) {
        if (j === self) continue;
        // Candidates arrive in index order, so a strict comparison keeps the lower index on ties.
        // The norms' product first: symmetric in the two images, so every path gives the same bits.
        const dist = distance === 'cosine' ? 1 - (dots[row + j] as number) * (selfInverse * (inverseNorms[j] as number)) : selfNorm + (norms[j] as number) - 2 * (dots[row + j] as number);
        if (dist < (bestDistance[k - 1] as number)) {
          let p = k - 1;
          while (p > 0 && (bestDistance[p - 1] as number) > dist) {
            bestDistance[p] = bestDistance[p - 1] as number;
            bestIndex[p] = bestIndex[p - 1] as number;
            p--;
          }
          bestDistance[p] = dist;
          bestIndex[p] = j;
        }
      }
      out.set(bestIndex, (q0 + i) * k);
    }
    options.onProgress?.(blockNumber + 1, blocks);
  }
  return out;
}

/**
 * Neighbours from onnxruntime's float32 products, exactly: with e_j a proven bound on the error
 * of the float32 distance to image j (`float32DotBound`), the true k-th distance is at most
 * tau, the k-th smallest of (distance + e_j); an image can be among the k nearest only if its
 * float32 distance minus e_j is at most tau. Those few are measured again in float64 and the k
 * nearest kept, ties to the lower index, as the float64 kernel does.
 */
async function onnxNeighbors(
  features: Float64Array,
  n: number,
  d: number,
  k: number,
  distance: KnnDistance,
  queries: Int32Array,
  norms: Float64Array,
  inverseNorms: Float64Array,
  memoryBytes: number,
  kernels: MatrixKernels,
  signal: AbortSignal | undefined,
  onProgress: ((done: number, total: number) => void) | undefined,
): Promise<Int32Array> {
  const transposed = new Float32Array(d * n);
  for (let r = 0; r < n; r++) for (let c = 0; c < d; c++) transposed[c * n + r] = features[r * d + c] as number;
  const queryBlock = Math.max(1, Math.min(queries.length, 1024, Math.floor(memoryBytes / 4 / (4 * n))));
  const queryRows = new Float32Array(queryBlock * d);
  const bound = float32DotBound(d);
  const cosine = distance === 'cosine';
  const roots = cosine ? undefined : Float64Array.from(norms, (v) => Math.sqrt(v));
  // Cosine: |error| <= bound (the dot is scaled by both norms), plus float64 slack.
  const cosineError = bound + 1e-12;
  const upper = new Float64Array(k);
  const list = new CandidateList(Math.max(64, 4 * k));
  const bestDistance = new Float64Array(k);
  const bestIndex = new Int32Array(k);
  const out = new Int32Array(queries.length * k);
  const blocks = Math.ceil(queries.length / queryBlock);
  for (let q0 = 0, blockNumber = 0; q0 < queries.length; q0 += queryBlock, blockNumber++) {
    signal?.throwIfAborted();
    const count = Math.min(queryBlock, queries.length - q0);
    for (let i = 0; i < count; i++) {
      const from = (queries[q0 + i] as number) * d;
      for (let c = 0; c < d; c++) queryRows[i * d + c] = features[from + c] as number;
    }
    const dots = await kernels.matmul(queryRows.subarray(0, count * d), count, d, transposed, n);
    for (let i = 0; i < count; i++) {
      const self = queries[q0 + i] as number;
      const row = i * n;
      const selfNorm = norms[self] as number;
      const selfInverse = inverseNorms[self] as number;
      const selfRoot = roots ? (roots[self] as number) : 0;
      upper.fill(Infinity);
      const candidates = cosine
        ? collectCosine(dots, row, n, self, selfInverse, inverseNorms, cosineError, upper, list)
        : collectEuclidean(dots, row, n, self, selfNorm, norms, selfRoot, roots as Float64Array, bound, upper, list);
      const candidateIndex = list.index;
      const candidateLow = list.low;
      const tau = upper[k - 1] as number;
      bestDistance.fill(Infinity);
      bestIndex.fill(-1);
      const x = self * d;
      for (let c = 0; c < candidates; c++) {
        if ((candidateLow[c] as number) > tau) continue;
        const j = candidateIndex[c] as number;
        const dot = exactDot(features, x, j * d, d);
        const dist = cosine ? 1 - dot * (selfInverse * (inverseNorms[j] as number)) : selfNorm + (norms[j] as number) - 2 * dot;
        // Candidates are in index order, so a strict comparison keeps the lower index on ties.
        if (dist < (bestDistance[k - 1] as number)) {
          let p = k - 1;
          while (p > 0 && (bestDistance[p - 1] as number) > dist) {
            bestDistance[p] = bestDistance[p - 1] as number;
            bestIndex[p] = bestIndex[p - 1] as number;
            p--;
          }
          bestDistance[p] = dist;
          bestIndex[p] = j;
        }
      }
      out.set(bestIndex, (q0 + i) * k);
    }
    onProgress?.(blockNumber + 1, blocks);
  }
  return out;
}

/**
 * A float64 dot product summed as `dotRows` sums it (sequentially within blocks of 256 columns,
 * the blocks' sums added in order), so a re-measured distance has the float64 kernel's bits.
 */
function exactDot(features: Float64Array, x: number, y: number, d: number): number {
  let dot = 0;
  for (let t0 = 0; t0 < d; t0 += DOT_K_BLOCK) {
    const t1 = Math.min(d, t0 + DOT_K_BLOCK);
    let sum = 0;
    for (let t = t0; t < t1; t++) sum += (features[x + t] as number) * (features[y + t] as number);
    dot += sum;
  }
  return dot;
}

/** Images that may be among a query's k nearest, with the lower bound of their distance. */
class CandidateList {
  index: Int32Array;
  low: Float64Array;

  constructor(capacity: number) {
    this.index = new Int32Array(capacity);
    this.low = new Float64Array(capacity);
  }

  grow(): void {
    const index = new Int32Array(this.index.length * 2);
    const low = new Float64Array(this.index.length * 2);
    index.set(this.index);
    low.set(this.low);
    this.index = index;
    this.low = low;
  }
}

/** Keeps `upper` (ascending, length k) the k smallest of approx + error. */
function offerUpper(upper: Float64Array, value: number): void {
  let p = upper.length - 1;
  while (p > 0 && (upper[p - 1] as number) > value) {
    upper[p] = upper[p - 1] as number;
    p--;
  }
  upper[p] = value;
}

/**
 * One pass over a query's float32 dot products: `upper` keeps the k smallest upper bounds
 * (approx + error); tau, the k-th of them, only falls, so every image whose lower bound
 * (approx - error) is within the final tau is collected on the way. Returns how many.
 */
function collectCosine(
  dots: Float32Array,
  row: number,
  n: number,
  self: number,
  selfInverse: number,
  inverseNorms: Float64Array,
  error: number,
  upper: Float64Array,
  list: CandidateList,
): number {
  const last = upper.length - 1;
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (j === self) continue;
    const approx = 1 - (dots[row + j] as number) * (selfInverse * (inverseNorms[j] as number));
    if (approx + error < (upper[last] as number)) offerUpper(upper, approx + error);
    if (approx - error <= (upper[last] as number)) {
      if (count === list.index.length) list.grow();
      list.index[count] = j;
      list.low[count++] = approx - error;
    }
  }
  return count;
}

function collectEuclidean(
  dots: Float32Array,
  row: number,
  n: number,
  self: number,
  selfNorm: number,
  norms: Float64Array,
  selfRoot: number,
  roots: Float64Array,
  bound: number,
  upper: Float64Array,
  list: CandidateList,
): number {
  const last = upper.length - 1;
  const scale = 2 * bound * selfRoot;
  let count = 0;
  for (let j = 0; j < n; j++) {
    if (j === self) continue;
    const norm = norms[j] as number;
    const approx = selfNorm + norm - 2 * (dots[row + j] as number);
    // 2 bound |x| |y| from the dot product, plus float64 slack.
    const error = scale * (roots[j] as number) + 1e-12 * (selfNorm + norm);
    if (approx + error < (upper[last] as number)) offerUpper(upper, approx + error);
    if (approx - error <= (upper[last] as number)) {
      if (count === list.index.length) list.grow();
      list.index[count] = j;
      list.low[count++] = approx - error;
    }
  }
  return count;
}

/**
 * Every row's neighbours at half the cost of querying each row against all: the Gram matrix
 * is visited in blocks (I, J <= I) and each dot product serves both rows. Row i still sees its
 * candidates in increasing index order (blocks J <= I first, then the rows of later blocks),
 * so ties keep the lower index exactly as in the query path.
 */
function allNeighbors(
  features: Float64Array,
  n: number,
  d: number,
  k: number,
  distance: KnnDistance,
  norms: Float64Array,
  inverseNorms: Float64Array,
  signal: AbortSignal | undefined,
  onProgress: ((done: number, total: number) => void) | undefined,
): Int32Array {
  const size = 256;
  const bestDistance = new Float64Array(n * k).fill(Infinity);
  const bestIndex = new Int32Array(n * k).fill(-1);
  const block = new Float64Array(size * size);
  const offer = (row: number, candidate: number, dist: number): void => {
    const base = row * k;
    if (!(dist < (bestDistance[base + k - 1] as number))) return;
    let p = k - 1;
    while (p > 0 && (bestDistance[base + p - 1] as number) > dist) {
      bestDistance[base + p] = bestDistance[base + p - 1] as number;
      bestIndex[base + p] = bestIndex[base + p - 1] as number;
      p--;
    }
    bestDistance[base + p] = dist;
    bestIndex[base + p] = candidate;
  };
  const blocks = Math.ceil(n / size);
  const cosine = distance === 'cosine';
  for (let bi = 0; bi < blocks; bi++) {
    signal?.throwIfAborted();
    const i0 = bi * size;
    const ni = Math.min(size, n - i0);
    const rowsI = features.subarray(i0 * d, (i0 + ni) * d);
    for (let bj = 0; bj <= bi; bj++) {
      const j0 = bj * size;
      const nj = Math.min(size, n - j0);
      dotRows(rowsI, ni, features.subarray(j0 * d, (j0 + nj) * d), nj, d, block, false, bi === bj);
      for (let a = 0; a < ni; a++) {
        const i = i0 + a;
        const jEnd = bi === bj ? a : nj;
        for (let b = 0; b < jEnd; b++) {
          const j = j0 + b;
          const dot = block[a * nj + b] as number;
          const dist = cosine ? 1 - dot * ((inverseNorms[i] as number) * (inverseNorms[j] as number)) : (norms[i] as number) + (norms[j] as number) - 2 * dot;
          offer(i, j, dist);
          offer(j, i, dist);
        }
      }
    }
    onProgress?.(bi + 1, blocks);
  }
  return bestIndex;
}

/**
 * Jaccard index |A ∩ B| / |A ∪ B| of each query's two neighbour sets (queries x k arrays
 * for the same queries), and their mean. `presorted` skips sorting each row by index (see
 * `sortNeighborRows`), for when one list is compared with many.
 */
export function neighborOverlap(a: Int32Array, b: Int32Array, k: number, presorted = false): { mean: number; perQuery: Float64Array } {
  if (a.length !== b.length || a.length % k !== 0) {
    throw new RangeError(`neighbour lists hold ${a.length} and ${b.length} indices; expected the same whole number of rows of k = ${k}`);
  }
  const queries = a.length / k;
  const perQuery = new Float64Array(queries);
  const sortedA = new Int32Array(k);
  const sortedB = new Int32Array(k);
  let total = 0;
  for (let q = 0; q < queries; q++) {
    sortedA.set(a.subarray(q * k, q * k + k));
    sortedB.set(b.subarray(q * k, q * k + k));
    if (!presorted) {
      sortedA.sort();
      sortedB.sort();
    }
    let i = 0;
    let j = 0;
    let common = 0;
    while (i < k && j < k) {
      const x = sortedA[i] as number;
      const y = sortedB[j] as number;
      if (x === y) {
        common++;
        i++;
        j++;
      } else if (x < y) i++;
      else j++;
    }
    const jaccard = common / (2 * k - common);
    perQuery[q] = jaccard;
    total += jaccard;
  }
  return { mean: queries > 0 ? total / queries : NaN, perQuery };
}

/** Sorts each row of a queries x k neighbour array by index, in place (for `neighborOverlap(..., true)`). */
export function sortNeighborRows(neighbors: Int32Array, k: number): Int32Array {
  for (let q = 0; q < neighbors.length; q += k) neighbors.subarray(q, q + k).sort();
  return neighbors;
}
