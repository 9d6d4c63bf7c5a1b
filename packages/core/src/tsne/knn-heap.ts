/**
 * Bounded max-heaps of (squared distance, index) pairs stored in flat typed arrays, one heap of
 * k slots per point. Pairs are ordered by distance, then index, so the k nearest form a unique
 * set whatever order the candidates arrive in: results do not depend on threads or blocking.
 */

/** Empties heap `base` (slots base .. base + k - 1). */
export function heapClear(dist: Float64Array, idx: Int32Array, base: number, k: number): void {
  dist.fill(Infinity, base, base + k);
  idx.fill(-1, base, base + k);
}

/** True when (d, j) would enter heap `base`, i.e. is before its current largest pair. */
export function heapAccepts(dist: Float64Array, idx: Int32Array, base: number, d: number, j: number): boolean {
  const top = dist[base] as number;
  return d < top || (d === top && j < (idx[base] as number));
}

/**
 * Inserts (d, j), dropping the largest pair. The caller checks heapAccepts first and that j is
 * not already present.
 */
export function heapReplaceTop(dist: Float64Array, idx: Int32Array, base: number, k: number, d: number, j: number): void {
  let at = 0;
  for (;;) {
    const left = 2 * at + 1;
    if (left >= k) break;
    const right = left + 1;
    let child = left;
    if (right < k) {
      const dl = dist[base + left] as number;
      const dr = dist[base + right] as number;
      if (dr > dl || (dr === dl && (idx[base + right] as number) > (idx[base + left] as number))) child = right;
    }
    const dc = dist[base + child] as number;
    if (dc < d || (dc === d && (idx[base + child] as number) < j)) break;
    dist[base + at] = dc;
    idx[base + at] = idx[base + child] as number;
    at = child;
  }
  dist[base + at] = d;
  idx[base + at] = j;
}

/** Sorts heap `base` in place into ascending (distance, index) order; it is no longer a heap. */
export function heapSortAscending(dist: Float64Array, idx: Int32Array, base: number, k: number): void {
  for (let size = k - 1; size > 0; size--) {
    const d = dist[base + size] as number;
    const j = idx[base + size] as number;
    dist[base + size] = dist[base] as number;
    idx[base + size] = idx[base] as number;
    // Sift (d, j) down from the root within the first `size` slots.
    let at = 0;
    for (;;) {
      const left = 2 * at + 1;
      if (left >= size) break;
      const right = left + 1;
      let child = left;
      if (right < size) {
        const dl = dist[base + left] as number;
        const dr = dist[base + right] as number;
        if (dr > dl || (dr === dl && (idx[base + right] as number) > (idx[base + left] as number))) child = right;
      }
      const dc = dist[base + child] as number;
      if (dc < d || (dc === d && (idx[base + child] as number) < j)) break;
      dist[base + at] = dc;
      idx[base + at] = idx[base + child] as number;
      at = child;
    }
    dist[base + at] = d;
    idx[base + at] = j;
  }
}
