/**
 * The k nearest neighbours of every input point (squared Euclidean distances, the point itself
 * excluded), exact or approximate, on the executor's threads.
 */
import type { RandomSource } from '../random.js';
import { sharedFloat32, sharedInt32 } from './buffers.js';
import type { Executor } from './executor.js';
import { KNN_CHUNK } from './kernels.js';
import { leafBoundaries } from './knn-approx.js';
import type { NeighborMethod } from './types.js';

export interface NeighborGraph {
  k: number;
  /** n x k neighbour indices, nearest first. */
  indices: Int32Array;
  /** n x k squared distances, as float32 (what sklearn hands to the perplexity search). */
  sqDistances: Float32Array;
  /**
   * The points in an order that keeps neighbours close (a random-projection tree's leaf
   * order), for callers that want their own arrays laid out that way: from the approximate
   * search, and from the exact one above LOCALITY_MIN_N points.
   */
  order?: Int32Array;
  /** Exact search by products only: rows that needed the brute-force search (knn-products.ts). */
  scannedRows?: number;
}

/**
 * Settings of the approximate search. Defaults measured at n = 5000, dim = 50, k = 91
 * (docs/tsne.md): recall 0.9996 on clusters of intrinsic dimension 8 and 0.975 on intrinsic
 * dimension 40, where the 30 nearest (which carry almost all of P) are 0.997 right.
 */
export interface ApproxKnnSettings {
  trees: number;
  /** Largest leaf; at least 2 (k + 1) so that one leaf already fills a list. */
  leafSize: number;
  /** Neighbours (and reverse neighbours) explored per list in a descent round. */
  breadth: number;
  maxRounds: number;
  /** Stop when fewer than this fraction of the n * k entries changed in a round. */
  minChangeRate: number;
}

export function defaultApproxSettings(k: number): ApproxKnnSettings {
  return { trees: 8, leafSize: Math.max(2 * (k + 1), 32), breadth: Math.min(k, 32), maxRounds: 4, minChangeRate: 0.005 };
}

/**
 * Exact search up to this cost in n^2 * dim multiply-adds: about 18 s of matrix products on
 * this 2-core machine (73,000 x 256 is 1.4e12), where the approximate search took 43 s.
 */
const EXACT_MAX_WORK = 4e12;
/**
 * Below this n^2 * dim the brute-force loop (about 1 GFLOP/s a thread) is as fast as loading
 * onnxruntime and setting up a session (~0.1 s: digits, 1,797 x 64 = 2e8, takes 0.19 s either
 * way); above it the exact search goes through matrix products.
 */
const PRODUCTS_MIN_WORK = 2e8;
/**
 * From this many points an exact search also returns a locality order (`order`), which the
 * optimiser uses: the attraction reads y at every non-zero of P. Measured: 20,000 points
 * 0.2-0.6 s less optimisation, 73,000 points 0.85 s less, for one tree (0.1-0.4 s).
 */
const LOCALITY_MIN_N = 20_000;

export function chooseNeighborMethod(n: number, dim: number, requested: NeighborMethod | 'auto'): NeighborMethod {
  if (requested !== 'auto') return requested;
  return n * n * dim <= EXACT_MAX_WORK || n <= 4096 ? 'exact' : 'approx';
}

export async function nearestNeighbors(
  executor: Executor,
  data: Float32Array,
  n: number,
  dim: number,
  k: number,
  method: NeighborMethod,
  random: RandomSource,
  signal: AbortSignal | undefined,
  approx: ApproxKnnSettings = defaultApproxSettings(k),
): Promise<NeighborGraph> {
  if (method === 'exact' && n * n * dim >= PRODUCTS_MIN_WORK) {
    // Loaded on demand: it brings onnxruntime, which the rest of the engine never needs.
    const { productKnn } = await import('./knn-products.js');
    const found = await productKnn(executor, data, n, dim, k, signal);
    if (n < LOCALITY_MIN_N) return { k, ...found };
    // The leaf order of one random-projection tree, for callers that lay their arrays out so
    // that neighbours sit close in memory (the optimiser does above LOCALITY_MIN_N points).
    const seeds = new Int32Array(new SharedArrayBuffer(4));
    seeds[0] = Math.floor(random.next() * 0x7fffffff);
    const order = sharedInt32(n);
    await executor.run({ kind: 'rp-trees', data, n, dim, leafSize: Math.max(2 * (k + 1), 32), seeds, perm: order, where: sharedInt32(n) }, signal);
    return { k, ...found, order };
  }
  const indices = sharedInt32(n * k);
  const sqDistances = sharedFloat32(n * k);
  if (method === 'exact') {
    await executor.run({ kind: 'knn-exact', data, n, dim, k, outIdx: indices, outSqDist: sqDistances }, signal);
    return { k, indices, sqDistances };
  }

  const { trees, breadth } = approx;
  const leafSize = Math.max(approx.leafSize, 2 * (k + 1));
  const seeds = new Int32Array(new SharedArrayBuffer(4 * trees));
  for (let t = 0; t < trees; t++) seeds[t] = Math.floor(random.next() * 0x7fffffff);
  const perm = sharedInt32(trees * n);
  const where = sharedInt32(trees * n);
  await executor.run({ kind: 'rp-trees', data, n, dim, leafSize, seeds, perm, where }, signal);

  // The search runs on a copy of the rows in the first tree's leaf order: points close in space
  // are then close in memory (a leaf's points are adjacent, sibling leaves next to each other),
  // so the rows a point is compared with are mostly in cache. At 73,000 x 256 the rows are
  // 75 MB, far more than any cache, and most comparisons stop after the first 16 values.
  const order = perm.slice(0, n);
  const local = sharedFloat32(n * dim);
  for (let at = 0; at < n; at++) local.set(data.subarray((order[at] as number) * dim, ((order[at] as number) + 1) * dim), at * dim);
  // Rename points to their position in that order (where[i], tree 0), then recompute `where`.
  for (let e = 0; e < trees * n; e++) perm[e] = where[perm[e] as number] as number;
  for (let t = 0; t < trees; t++) {
    for (let at = 0; at < n; at++) where[t * n + (perm[t * n + at] as number)] = at;
  }

  const leafBounds = leafBoundaries(n, leafSize);
  const sharedBounds = sharedInt32(leafBounds.length);
  sharedBounds.set(leafBounds);
  await executor.run(
    { kind: 'knn-forest', data: local, n, dim, k, trees, leafBounds: sharedBounds, perm, where, outIdx: indices, outSqDist: sqDistances },
    signal,
  );

  let inIdx = indices;
  let inSqDist = sqDistances;
  let inNew = new Uint8Array(new SharedArrayBuffer(n * k)).fill(1);
  let outIdx = sharedInt32(n * k);
  let outSqDist = sharedFloat32(n * k);
  let outNew = new Uint8Array(new SharedArrayBuffer(n * k));
  const changes = new Int32Array(new SharedArrayBuffer(4 * Math.ceil(n / KNN_CHUNK)));
  for (let round = 0; round < approx.maxRounds; round++) {
    const reverse = reverseLists(inIdx, inNew, n, k, breadth);
    await executor.run(
      { kind: 'knn-refine', data: local, n, dim, k, breadth, inIdx, inSqDist, inNew, ...reverse, outIdx, outSqDist, outNew, changes },
      signal,
    );
    let changed = 0;
    for (const c of changes) changed += c;
    changes.fill(0);
    [inIdx, outIdx] = [outIdx, inIdx];
    [inSqDist, outSqDist] = [outSqDist, inSqDist];
    [inNew, outNew] = [outNew, inNew];
    if (changed < approx.minChangeRate * n * k) break;
  }
  return toInputOrder(inIdx, inSqDist, order, n, k, outIdx, outSqDist);
}

/**
 * The lists of the reordered points, back in input order: row order[at] is row `at`, entries
 * renamed, and ties in distance ordered by input index (as everywhere else).
 */
function toInputOrder(idx: Int32Array, sqDist: Float32Array, order: Int32Array, n: number, k: number, outIdx: Int32Array, outSqDist: Float32Array): NeighborGraph {
  for (let at = 0; at < n; at++) {
    const row = (order[at] as number) * k;
    for (let t = 0; t < k; t++) {
      const j = idx[at * k + t] as number;
      const d = sqDist[at * k + t] as number;
      const named = j < 0 ? j : (order[j] as number);
      // Insertion into the sorted prefix: only equal distances can move.
      let s = t;
      while (s > 0) {
        const pd = outSqDist[row + s - 1] as number;
        const pj = outIdx[row + s - 1] as number;
        if (pd < d || (pd === d && (pj <= named || named < 0))) break;
        outSqDist[row + s] = pd;
        outIdx[row + s] = pj;
        s--;
      }
      outIdx[row + s] = named;
      outSqDist[row + s] = d;
    }
  }
  return { k, indices: outIdx, sqDistances: outSqDist, order };
}

/**
 * For each point u, up to `breadth` points v that have u among their first `breadth`
 * neighbours (lowest v first), with the "new" flag of that entry.
 */
function reverseLists(
  idx: Int32Array,
  isNew: Uint8Array,
  n: number,
  k: number,
  breadth: number,
): { revPtr: Int32Array; revIdx: Int32Array; revNew: Uint8Array } {
  const b = Math.min(breadth, k);
  const count = new Int32Array(n);
  for (let v = 0; v < n; v++) {
    for (let t = 0; t < b; t++) {
      const u = idx[v * k + t] as number;
      if (u >= 0 && (count[u] as number) < b) count[u] = (count[u] as number) + 1;
    }
  }
  const revPtr = sharedInt32(n + 1);
  for (let u = 0; u < n; u++) revPtr[u + 1] = (revPtr[u] as number) + (count[u] as number);
  const total = revPtr[n] as number;
  const revIdx = sharedInt32(total);
  const revNew = new Uint8Array(new SharedArrayBuffer(Math.max(total, 1)));
  count.fill(0);
  for (let v = 0; v < n; v++) {
    for (let t = 0; t < b; t++) {
      const u = idx[v * k + t] as number;
      if (u < 0 || (count[u] as number) >= b) continue;
      const at = (revPtr[u] as number) + (count[u] as number);
      revIdx[at] = v;
      revNew[at] = isNew[v * k + t] as number;
      count[u] = (count[u] as number) + 1;
    }
  }
  return { revPtr, revIdx, revNew };
}
