/**
 * Per-point perplexity calibration: a line-by-line port of scikit-learn's
 * `sklearn.manifold._utils._binary_search_perplexity` (1.2), so that the conditional
 * probabilities equal sklearn's to rounding. Inputs are squared Euclidean distances to each
 * point's k neighbours stored as float32, exactly as sklearn casts them before the search.
 */

/** sklearn's PERPLEXITY_TOLERANCE: entropy within 1e-5 nats of log(perplexity). */
const PERPLEXITY_TOLERANCE = 1e-5;
/** sklearn's EPSILON_DBL, used when every exp() underflowed. */
const EPSILON_DBL = 1e-8;
const N_STEPS = 100;

/**
 * Fills rows [rowStart, rowEnd) of `out` (n x k) with the conditional probabilities p_{j|i}.
 * `sqDistances` is n x k, row-major. When k equals n the matrix is the full square one and the
 * diagonal is skipped, as in sklearn's exact method; with k < n every column is a neighbour.
 */
export function binarySearchPerplexityRows(
  sqDistances: Float32Array,
  n: number,
  k: number,
  perplexity: number,
  out: Float64Array,
  rowStart: number,
  rowEnd: number,
): void {
  const usingNeighbors = k < n;
  const desiredEntropy = Math.log(perplexity);
  for (let i = rowStart; i < rowEnd; i++) {
    const row = i * k;
    let betaMin = -Infinity;
    let betaMax = Infinity;
    let beta = 1;
    if (!usingNeighbors) out[row + i] = 0;
    for (let step = 0; step < N_STEPS; step++) {
      let sumP = 0;
      for (let j = 0; j < k; j++) {
        if (j !== i || usingNeighbors) {
          const p = Math.exp(-(sqDistances[row + j] as number) * beta);
          out[row + j] = p;
          sumP += p;
        }
      }
      if (sumP === 0) sumP = EPSILON_DBL;
      let sumDistP = 0;
      for (let j = 0; j < k; j++) {
        // sklearn divides every entry, the (never written) diagonal too: keep that zero.
        const p = (out[row + j] as number) / sumP;
        out[row + j] = p;
        sumDistP += (sqDistances[row + j] as number) * p;
      }
      const entropyDiff = Math.log(sumP) + beta * sumDistP - desiredEntropy;
      if (Math.abs(entropyDiff) <= PERPLEXITY_TOLERANCE) break;
      if (entropyDiff > 0) {
        betaMin = beta;
        beta = betaMax === Infinity ? beta * 2 : (beta + betaMax) / 2;
      } else {
        betaMax = beta;
        beta = betaMin === -Infinity ? beta / 2 : (beta + betaMin) / 2;
      }
    }
  }
}

/** Whole-matrix convenience wrapper (n x k squared distances in, n x k conditional P out). */
export function binarySearchPerplexity(
  sqDistances: Float32Array,
  n: number,
  k: number,
  perplexity: number,
): Float64Array {
  if (sqDistances.length !== n * k) {
    throw new RangeError(`sqDistances has ${sqDistances.length} values, expected n * k = ${n * k}`);
  }
  const out = new Float64Array(n * k);
  binarySearchPerplexityRows(sqDistances, n, k, perplexity, out, 0, n);
  return out;
}
