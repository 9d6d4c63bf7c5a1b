/**
 * Average ranks (ties share the mean of their positions, as scipy.stats.rankdata's default),
 * for Spearman correlations over millions of RDM cells. Sorting goes through a stable radix
 * sort on the float64 bit patterns: linear time, no comparator calls, and equal values stay
 * adjacent so ties are found exactly.
 */

/** Indices that sort `values` ascending (stable). Values must not be NaN. */
export function argsortFloat64(values: Float64Array): Uint32Array {
  const n = values.length;
  const words = new Uint32Array(values.buffer, values.byteOffset, n * 2);
  // Sortable keys: flip the sign bit of positives, all bits of negatives (IEEE 754 order).
  const lo = new Uint32Array(n);
  const hi = new Uint32Array(n);
  for (let i = 0; i < n; i++) {
    const h = words[2 * i + 1] as number;
    const l = words[2 * i] as number;
    if (h & 0x80000000) {
      hi[i] = ~h >>> 0;
      lo[i] = ~l >>> 0;
    } else {
      hi[i] = (h | 0x80000000) >>> 0;
      lo[i] = l;
    }
  }
  let order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  let scratch = new Uint32Array(n);
  const counts = new Uint32Array(65536);
  // Four stable 16-bit passes, least significant first.
  for (const [key, shift] of [[lo, 0], [lo, 16], [hi, 0], [hi, 16]] as const) {
    counts.fill(0);
    for (let i = 0; i < n; i++) {
      const digit = ((key[i] as number) >>> shift) & 0xffff;
      counts[digit] = (counts[digit] as number) + 1;
    }
    // Skip a pass in which every key has the same digit (common for the high bits).
    if (counts[((key[order[0] ?? 0] ?? 0) >>> shift) & 0xffff] === n) continue;
    let total = 0;
    for (let d = 0; d < 65536; d++) {
      const c = counts[d] as number;
      counts[d] = total;
      total += c;
    }
    for (let i = 0; i < n; i++) {
      const index = order[i] as number;
      const digit = ((key[index] as number) >>> shift) & 0xffff;
      const slot = counts[digit] as number;
      counts[digit] = slot + 1;
      scratch[slot] = index;
    }
    [order, scratch] = [scratch, order];
  }
  return order;
}

/**
 * Ranks 1..n with ties averaged, minus their mean (n + 1) / 2, so that Pearson's correlation
 * of two such vectors is Spearman's rho. Every value is a multiple of 0.5: exact in float64,
 * and in float32 while n < 2^23 (what `centeredRanksCompact` relies on).
 */
export function centeredRanks(values: Float64Array, label = 'values'): Float64Array {
  const n = values.length;
  for (let i = 0; i < n; i++) {
    if (Number.isNaN(values[i])) throw new RangeError(`${label}: NaN at position ${i}; expected numbers to rank`);
  }
  const order = argsortFloat64(values);
  const out = new Float64Array(n);
  const mean = (n + 1) / 2;
  let start = 0;
  while (start < n) {
    const value = values[order[start] as number] as number;
    let end = start + 1;
    while (end < n && values[order[end] as number] === value) end++;
    // Positions start..end-1 (0-based) share the average 1-based rank.
    const rank = (start + 1 + end) / 2 - mean;
    for (let t = start; t < end; t++) out[order[t] as number] = rank;
    start = end;
  }
  return out;
}

/** Centered ranks in float32 when that is exact (n < 2^23), halving the memory of many RDMs. */
export function centeredRanksCompact(values: Float64Array, label = 'values'): Float32Array | Float64Array {
  const ranks = centeredRanks(values, label);
  return ranks.length < 2 ** 23 ? Float32Array.from(ranks) : ranks;
}
