/**
 * Seeded choices of images: subsets for the RSA and kNN shortcuts, and label permutations
 * for the Mantel test. The same seed gives the same images on every machine.
 */
import type { RandomSource } from '../random.js';

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function randomPermutation(n: number, random: RandomSource, out = new Int32Array(n)): Int32Array {
  for (let i = 0; i < n; i++) out[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(random.next() * (i + 1));
    const t = out[i] as number;
    out[i] = out[j] as number;
    out[j] = t;
  }
  return out;
}

/**
 * `count` distinct indices of 0..n-1 chosen uniformly, returned ascending (reads in file
 * order). All of them, in order, when count >= n.
 */
export function sampleIndices(n: number, count: number, random: RandomSource): Int32Array {
  if (count >= n) return Int32Array.from({ length: n }, (_, i) => i);
  // Partial Fisher-Yates over a sparse map: O(count) memory even for n = 73,000 or more.
  const swapped = new Map<number, number>();
  const out = new Int32Array(count);
  for (let i = 0; i < count; i++) {
    const j = i + Math.floor(random.next() * (n - i));
    const atJ = swapped.get(j) ?? j;
    swapped.set(j, swapped.get(i) ?? i);
    out[i] = atJ;
  }
  return out.sort();
}
