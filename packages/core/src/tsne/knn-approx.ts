/**
 * Approximate k nearest neighbours for large inputs, in two stages that both split by point:
 * 1. a forest of random-projection trees (each split at the median of the projections onto the
 *    line through two random points, so leaves hold between leafSize/2 and leafSize points); a
 *    point's candidates are the points sharing a leaf with it in any tree;
 * 2. rounds of neighbour descent (Dong et al.) in "pull" form: each point compares itself with
 *    the neighbours (and reverse neighbours) of its neighbours, only where one of the two links
 *    is new, and writes only its own list. Reading the previous round's lists and writing new
 *    ones makes every round independent of the thread count.
 */
import { createRandom } from '../random.js';
import { heapAccepts, heapClear, heapReplaceTop, heapSortAscending } from './knn-heap.js';
import type { ForestCandidatesTask, RefineTask } from './kernels.js';

/** Segment boundaries of the leaves: they depend only on n and leafSize (splits are at the middle). */
export function leafBoundaries(n: number, leafSize: number): Int32Array {
  const bounds: number[] = [0];
  const split = (start: number, end: number): void => {
    if (end - start <= leafSize) {
      bounds.push(end);
      return;
    }
    const mid = start + Math.floor((end - start) / 2);
    split(start, mid);
    split(mid, end);
  };
  split(0, n);
  return Int32Array.from(bounds);
}

/** Builds one tree: perm (length n) receives the point order whose leaf segments are leafBoundaries(n, leafSize). */
export function buildRpTree(
  data: Float32Array,
  n: number,
  dim: number,
  leafSize: number,
  seed: number,
  perm: Int32Array,
): void {
  const random = createRandom(seed);
  for (let i = 0; i < n; i++) perm[i] = i;
  const key = new Float64Array(n);
  const direction = new Float64Array(dim);
  const split = (start: number, end: number): void => {
    if (end - start <= leafSize) return;
    const size = end - start;
    let norm = 0;
    for (let attempt = 0; attempt < 8 && norm === 0; attempt++) {
      const a = perm[start + Math.floor(random.next() * size)] as number;
      let b = perm[start + Math.floor(random.next() * (size - 1))] as number;
      if (b === a) b = perm[end - 1] as number;
      norm = 0;
      for (let d = 0; d < dim; d++) {
        const v = (data[a * dim + d] as number) - (data[b * dim + d] as number);
        direction[d] = v;
        norm += v * v;
      }
    }
    // Coincident points everywhere we looked: any direction splits them as well as another.
    if (norm === 0) for (let d = 0; d < dim; d++) direction[d] = random.normal();
    for (let at = start; at < end; at++) {
      const o = (perm[at] as number) * dim;
      let s = 0;
      for (let d = 0; d < dim; d++) s += (data[o + d] as number) * (direction[d] as number);
      key[at] = s;
    }
    const mid = start + Math.floor(size / 2);
    selectNth(perm, key, start, end - 1, mid);
    split(start, mid);
    split(mid, end);
  };
  split(0, n);
}

/**
 * Quickselect on positions [lo, hi]: afterwards key[nth] has every smaller key before it. The
 * entries of `perm`, when given, move with their keys.
 */
function selectNth(perm: Int32Array | undefined, key: Float64Array, lo: number, hi: number, nth: number): void {
  while (hi > lo) {
    const pivot = key[(lo + hi) >> 1] as number;
    let i = lo;
    let j = hi;
    while (i <= j) {
      while ((key[i] as number) < pivot) i++;
      while ((key[j] as number) > pivot) j--;
      if (i <= j) {
        const tk = key[i] as number;
        key[i] = key[j] as number;
        key[j] = tk;
        if (perm !== undefined) {
          const tp = perm[i] as number;
          perm[i] = perm[j] as number;
          perm[j] = tp;
        }
        i++;
        j--;
      }
    }
    if (nth <= j) hi = j;
    else if (nth >= i) lo = i;
    else return;
  }
}

/** Per-thread scratch: "seen" marks (a generation counter avoids clearing) and one heap. */
interface Scratch {
  seen: Int32Array;
  mark: number;
  heapD: Float64Array;
  heapI: Int32Array;
}
let scratch: Scratch | undefined;
function scratchFor(n: number, k: number): Scratch {
  if (scratch === undefined || scratch.seen.length < n || scratch.heapD.length < k) {
    scratch = { seen: new Int32Array(n), mark: 0, heapD: new Float64Array(k), heapI: new Int32Array(k) };
  }
  return scratch;
}
/** A fresh pair of marks (m, m + 1) no earlier point used. */
function nextMark(s: Scratch): number {
  s.mark += 2;
  if (s.mark >= 0x7ffffff0) {
    s.seen.fill(0);
    s.mark = 2;
  }
  return s.mark;
}

/** Dimensions summed between two looks at the bound in the bounded distances below. */
const BOUND_STRIDE = 16;

/**
 * Squared distance of rows a and b, summed in dimension order (so bit for bit the plain sum),
 * giving up once a partial sum exceeds `bound`: the terms are non-negative and rounding is
 * monotone, so the full sum would exceed it too, and the partial sum (> bound) is returned.
 * PCA output puts most of the variance in the first components, so a far candidate is
 * rejected after a few strides: at 256 dimensions this skips most of the work.
 */
function sqDistBounded(data: Float32Array, dim: number, a: number, b: number, bound: number): number {
  return sqDistResumed(data, dim, a, b, firstStride(data, dim, a, b), bound);
}

/**
 * As sqDistBounded for a caller that rounds the result to float32 before comparing: gives up
 * only when even the rounded partial sum exceeds `bound` (a float32 value), so that the rounded
 * full sum would too.
 */
function sqDistBoundedF32(data: Float32Array, dim: number, a: number, b: number, bound: number): number {
  const oa = a * dim;
  const ob = b * dim;
  let s = 0;
  const whole = dim - (dim % BOUND_STRIDE);
  for (let d = 0; d < whole; d += BOUND_STRIDE) {
    s = addStride(data, oa, ob, d, s);
    if (Math.fround(s) > bound) return s;
  }
  return addRest(data, oa, ob, whole, dim, s);
}

/**
 * s plus the squared differences of dimensions d .. d + BOUND_STRIDE of the rows at offsets oa
 * and ob, added one at a time in dimension order (four per pass), as every bounded distance
 * here sums them.
 */
function addStride(data: Float32Array, oa: number, ob: number, d: number, s: number): number {
  const end = d + BOUND_STRIDE;
  for (; d < end; d += 4) {
    const t0 = (data[oa + d] as number) - (data[ob + d] as number);
    const t1 = (data[oa + d + 1] as number) - (data[ob + d + 1] as number);
    const t2 = (data[oa + d + 2] as number) - (data[ob + d + 2] as number);
    const t3 = (data[oa + d + 3] as number) - (data[ob + d + 3] as number);
    s += t0 * t0;
    s += t1 * t1;
    s += t2 * t2;
    s += t3 * t3;
  }
  return s;
}

/** s plus the squared differences of dimensions from .. dim - 1 (what is left after the strides). */
function addRest(data: Float32Array, oa: number, ob: number, from: number, dim: number, s: number): number {
  for (let d = from; d < dim; d++) {
    const t = (data[oa + d] as number) - (data[ob + d] as number);
    s += t * t;
  }
  return s;
}

/** Per-thread candidate lists of the forest stage: ids, and the partial distance of the first stride. */
let candidates: { idx: Int32Array; first: Float64Array; select: Float64Array } | undefined;
function candidateScratch(length: number): { idx: Int32Array; first: Float64Array; select: Float64Array } {
  if (candidates === undefined || candidates.idx.length < length) {
    candidates = { idx: new Int32Array(length), first: new Float64Array(length), select: new Float64Array(length) };
  }
  return candidates;
}

/** The first stride of sqDistBounded (its partial sum before the first look at the bound). */
function firstStride(data: Float32Array, dim: number, a: number, b: number): number {
  return dim < BOUND_STRIDE ? 0 : addStride(data, a * dim, b * dim, 0, 0);
}

/**
 * sqDistBounded resumed after its first stride, from that stride's partial sum `s`: the same
 * additions in the same order, so the same result bit for bit.
 */
function sqDistResumed(data: Float32Array, dim: number, a: number, b: number, s: number, bound: number): number {
  const whole = dim - (dim % BOUND_STRIDE);
  const oa = a * dim;
  const ob = b * dim;
  if (whole === 0) return addRest(data, oa, ob, 0, dim, s);
  // The caller summed the first stride.
  for (let d = BOUND_STRIDE; ; d += BOUND_STRIDE) {
    if (s > bound) return s;
    if (d === whole) return addRest(data, oa, ob, whole, dim, s);
    s = addStride(data, oa, ob, d, s);
  }
}

/** The k-th smallest (1-based) of values[0 .. m), m >= k; reorders `values`. */
function kthSmallest(values: Float64Array, m: number, k: number): number {
  selectNth(undefined, values, 0, m - 1, k - 1);
  return values[k - 1] as number;
}

/**
 * Stage 1 for query rows [from, to): best k among the leaf-mates in every tree.
 *
 * The candidates (up to trees x leaf size, ~1,100 at k = 91) are gathered first, with the
 * partial distance of their first 16 dimensions; those whose partial distance is among the k
 * smallest are evaluated first, so that the heap's bound is tight before the others are looked
 * at, and most of those are then refused on the partial distance already computed. The result
 * does not depend on the order of evaluation (the heap keeps the k smallest (distance, index)
 * pairs, and a candidate is only given up once its partial sum exceeds the k-th best), so it is
 * the same bit for bit as evaluating in leaf order, which, with a heap that starts empty,
 * computed ~3x as many full distances (most of them of candidates evicted later).
 */
export function forestCandidatesRows(task: ForestCandidatesTask, from: number, to: number): void {
  const { data, n, dim, k, trees, perm, where, leafBounds, outIdx, outSqDist } = task;
  const s = scratchFor(n, k);
  const { seen, heapD, heapI } = s;
  const leaves = leafBounds.length - 1;
  let widest = 0;
  for (let l = 0; l < leaves; l++) widest = Math.max(widest, (leafBounds[l + 1] as number) - (leafBounds[l] as number));
  const cand = candidateScratch(trees * widest);
  const { idx, first, select } = cand;
  for (let i = from; i < to; i++) {
    const mark = nextMark(s);
    seen[i] = mark;
    heapClear(heapD, heapI, 0, k);
    let m = 0;
    for (let t = 0; t < trees; t++) {
      const pos = where[t * n + i] as number;
      // Leaf containing pos: last boundary <= pos.
      let lo = 0;
      let hi = leaves - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if ((leafBounds[mid] as number) <= pos) lo = mid;
        else hi = mid - 1;
      }
      const base = t * n;
      for (let at = leafBounds[lo] as number; at < (leafBounds[lo + 1] as number); at++) {
        const j = perm[base + at] as number;
        if (seen[j] === mark) continue;
        seen[j] = mark;
        idx[m] = j;
        first[m] = firstStride(data, dim, i, j);
        m++;
      }
    }
    // Candidates at or below the k-th smallest first stride, then the rest.
    let threshold = Infinity;
    if (m > k) {
      select.set(first.subarray(0, m));
      threshold = kthSmallest(select, m, k);
    }
    for (let pass = 0; pass < 2; pass++) {
      for (let c = 0; c < m; c++) {
        const early = (first[c] as number) <= threshold;
        if (early !== (pass === 0)) continue;
        const j = idx[c] as number;
        // Rejected early when already farther than the k-th best (heapAccepts then refuses it).
        const d = sqDistResumed(data, dim, i, j, first[c] as number, heapD[0] as number);
        if (heapAccepts(heapD, heapI, 0, d, j)) heapReplaceTop(heapD, heapI, 0, k, d, j);
      }
    }
    heapSortAscending(heapD, heapI, 0, k);
    for (let t = 0; t < k; t++) {
      outIdx[i * k + t] = heapI[t] as number;
      outSqDist[i * k + t] = heapD[t] as number;
    }
  }
}

/** Stage 2 for rows [from, to): one pull round of neighbour descent; returns entries changed. */
export function refineRows(task: RefineTask, from: number, to: number): number {
  const { data, n, dim, k, breadth, inIdx, inSqDist, inNew, revPtr, revIdx, revNew, outIdx, outSqDist, outNew } = task;
  const s = scratchFor(n, k);
  const { seen, heapD, heapI } = s;
  let changes = 0;
  for (let u = from; u < to; u++) {
    // Previous neighbours (and u) get `mark`, points explored this round `mark + 1`.
    const mark = nextMark(s);
    const explored = mark + 1;
    seen[u] = mark;
    const row = u * k;
    // The ascending list reversed is a valid max-heap.
    for (let t = 0; t < k; t++) {
      const j = inIdx[row + t] as number;
      heapI[k - 1 - t] = j;
      heapD[k - 1 - t] = inSqDist[row + t] as number;
      if (j >= 0) seen[j] = mark;
    }
    const consider = (w: number): void => {
      seen[w] = explored;
      // float32 like the stored distances, so old and new entries compare alike.
      const d = Math.fround(sqDistBoundedF32(data, dim, u, w, heapD[0] as number));
      if (heapAccepts(heapD, heapI, 0, d, w)) heapReplaceTop(heapD, heapI, 0, k, d, w);
    };
    const vb = Math.min(breadth, k);
    const explore = (v: number, linkNew: boolean): void => {
      if (v < 0) return;
      const vRow = v * k;
      for (let t = 0; t < vb; t++) {
        const w = inIdx[vRow + t] as number;
        if (w >= 0 && (seen[w] as number) < mark && (linkNew || inNew[vRow + t] === 1)) consider(w);
      }
      for (let e = revPtr[v] as number; e < (revPtr[v + 1] as number); e++) {
        const w = revIdx[e] as number;
        if ((seen[w] as number) < mark && (linkNew || revNew[e] === 1)) consider(w);
      }
    };
    for (let t = 0; t < vb; t++) explore(inIdx[row + t] as number, inNew[row + t] === 1);
    for (let e = revPtr[u] as number; e < (revPtr[u + 1] as number); e++) explore(revIdx[e] as number, revNew[e] === 1);

    heapSortAscending(heapD, heapI, 0, k);
    for (let t = 0; t < k; t++) {
      const j = heapI[t] as number;
      const isNew = j >= 0 && seen[j] === explored;
      outIdx[row + t] = j;
      outSqDist[row + t] = heapD[t] as number;
      outNew[row + t] = isNew ? 1 : 0;
      if (isNew) changes++;
    }
  }
  return changes;
}
