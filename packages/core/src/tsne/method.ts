/**
 * Which repulsion method runs: by n for 'auto', and step by step for 'hybrid'. The constants
 * are single-thread timings of this implementation (docs/tsne.md, "Choosing the method"):
 * Barnes-Hut costs about 1.1e-7 s * n log2 n per step (tree build included) whatever the
 * embedding's extent; the FFT costs about 1e-8 s * L^2 log2 L + 4e-7 s * n, where L (the FFT
 * length) grows with the extent (boxes at most one embedding unit wide), not with n. So the
 * FFT wins while the embedding is compact relative to n (early exaggeration, large n) and
 * loses once it has spread out. Exact costs about 1.5e-9 s * n^2.
 */
import type { TsneMethod } from './types.js';

/** Below this many points repulsion is computed exactly: the all-pairs loop is then cheapest. */
export const EXACT_MAX_N = 600;
/** From this many points 'auto' runs 'hybrid' (below, an FFT grid never beats the tree). */
export const HYBRID_MIN_N = 5000;

const BH_SECONDS_PER_N_LOG_N = 1.1e-7;
const FFT_SECONDS_PER_L2_LOG_L = 1e-8;
const FFT_SECONDS_PER_POINT = 4e-7;

export function chooseMethod(n: number, requested: TsneMethod | 'auto'): TsneMethod {
  if (requested !== 'auto') return requested;
  if (n < EXACT_MAX_N) return 'exact';
  return n < HYBRID_MIN_N ? 'bh' : 'hybrid';
}

/** For 'hybrid': true when an FFT step on a size x size grid is predicted cheaper than a Barnes-Hut step. */
export function fftCheaper(size: number, n: number): boolean {
  const fft = FFT_SECONDS_PER_L2_LOG_L * size * size * Math.log2(size) + FFT_SECONDS_PER_POINT * n;
  return fft < BH_SECONDS_PER_N_LOG_N * n * Math.log2(n);
}
