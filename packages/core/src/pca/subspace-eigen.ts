/**
 * The largest k eigenpairs of a symmetric positive semi-definite m x m matrix S (the Gram or
 * covariance matrix of the sample) by Chebyshev-filtered subspace iteration with
 * Rayleigh-Ritz; the large products run on onnxruntime (float32), the small dense work in
 * float64 JavaScript.
 *
 * Plain subspace iteration (sklearn's randomized solver with a fixed number of power
 * iterations) converges as (lambda_{l+1} / lambda_i)^t, which is slow for components in a
 * flat part of the spectrum (noise): 90 iterations were needed on a noisy 2,000-sample test.
 * A degree-d Chebyshev polynomial of S that is bounded by 1 on [0, theta_l] (the unwanted
 * part) grows like cosh(2 d sqrt(delta)) just above it, against (1 + delta)^d for S^d, so
 * far fewer products and Rayleigh-Ritz steps are needed. The degree is capped so that the
 * largest eigenvalue is amplified at most ~1e5 times more than the k-th: float32 columns
 * carry ~1e-7 of error along the top eigenvectors, and more amplification than that would
 * swamp the wanted directions before orthonormalisation removes it. Converged pairs are
 * locked: only the other columns are filtered (with the locked vectors projected out after
 * every product), so the cap depends on the largest unconverged eigenvalue and the degree can
 * rise as the top pairs converge; the locked vectors still take part in every Rayleigh-Ritz
 * step, which keeps nearly equal eigenvalues on either side of the lock resolved (freezing
 * them instead, as in classic deflation, was measurably less accurate and no faster). On that
 * noisy test this takes 7 Rayleigh-Ritz steps and 17 products instead of 90.
 *
 * It iterates until every wanted Ritz pair has converged: residual ||S q - theta q|| below
 * 1e-3 of the gap to its neighbours, or at the float32 rounding level of the product, or no
 * longer improving.
 *
 * Orthonormalisation is CholeskyQR2 on onnxruntime: the filtered block comes from Ritz
 * vectors with columns normalised, so it is far from rank-deficient and its float32 Gram
 * matrix is well conditioned. When Cholesky breaks down anyway it falls back to modified
 * Gram-Schmidt in float64.
 */
import { createRandom } from '../random.js';
import { symmetricEigen } from './dense-eigen.js';
import type { MatrixKernels } from './kernels.js';

export interface SubspaceEigenOptions {
  /** Extra vectors beyond k (the filter damps eigenvalues below the l-th Ritz value, l = k + oversample). */
  readonly oversample: number;
  /** Most Rayleigh-Ritz steps. */
  readonly maxIterations: number;
  /** A pair has converged when its residual is below `tolerance` times its eigengap. */
  readonly tolerance: number;
  readonly seed: number;
  readonly kernels: MatrixKernels;
  readonly signal?: AbortSignal;
  /** Highest Chebyshev degree per step. Default 8. */
  readonly maxDegree?: number;
  readonly onIteration?: (iteration: number, unconverged: number) => void;
}

export interface EigenResult {
  /** The k largest eigenvalues, largest first. */
  readonly values: Float64Array;
  /** Their eigenvectors, row-major m x k. */
  readonly vectors: Float32Array;
  /** Rayleigh-Ritz steps. */
  readonly iterations: number;
  /** Products of S with a block of vectors (at most m^2 l multiply-adds each). */
  readonly products: number;
  /** Pairs that met the residual criterion; k when all did. */
  readonly converged: number;
}

const FLOAT32_EPS = 2 ** -24;
/** Largest amplification of the top eigenvalue relative to the k-th allowed in one filter. */
const MAX_AMPLIFICATION = 1e5;

interface Ritz {
  readonly values: Float64Array;
  /** Ritz vectors Q W, row-major m x l. */
  readonly vectors: Float32Array;
  /** S Q W. */
  readonly image: Float32Array;
}

async function rayleighRitz(s: Float32Array, m: number, l: number, q: Float32Array, kernels: MatrixKernels): Promise<Ritz> {
  const z = await kernels.matmul(s, m, m, q, l);
  const b = await kernels.matmulTransposeA(q, m, l, z, l);
  const b64 = new Float64Array(l * l);
  for (let i = 0; i < l; i += 1) {
    for (let j = 0; j < l; j += 1) b64[i * l + j] = 0.5 * ((b[i * l + j] as number) + (b[j * l + i] as number));
  }
  const { values, vectors } = symmetricEigen(b64, l);
  // W's columns are eigenvectors of B (column-major); transpose to row-major l x l.
  const w = new Float32Array(l * l);
  for (let j = 0; j < l; j += 1) for (let i = 0; i < l; i += 1) w[i * l + j] = vectors[j * l + i] as number;
  return { values, vectors: await kernels.matmul(q, m, l, w, l), image: await kernels.matmul(z, m, l, w, l) };
}

/** cosh(d acosh(x)) for x >= 1: the Chebyshev polynomial T_d outside [-1, 1]. */
function chebyshevOutside(d: number, x: number): number {
  return Math.cosh(d * Math.acosh(Math.max(1, x)));
}

export async function subspaceEigen(s: Float32Array, m: number, k: number, options: SubspaceEigenOptions): Promise<EigenResult> {
  const { kernels } = options;
  const l = Math.min(m, k + options.oversample);
  const maxDegree = options.maxDegree ?? 8;
  const random = createRandom(options.seed);
  let q: Float32Array = new Float32Array(m * l);
  for (let i = 0; i < q.length; i += 1) q[i] = random.normal();
  q = await orthonormalize(q, m, l, kernels);
  let ritz = await rayleighRitz(s, m, l, q, kernels);
  let products = 1;

  let best = Number.POSITIVE_INFINITY;
  let sinceBest = 0;
  let iteration = 0;
  for (;;) {
    options.signal?.throwIfAborted();
    iteration += 1;
    const { values, vectors, image } = ritz;
    const theta1 = Math.max(values[0] as number, 0);
    // Rounding level of a float32 product S q with |q| = 1 (~eps ||S||): residuals below it are noise.
    const floor = 2 * FLOAT32_EPS * theta1;
    const residual = new Float64Array(l);
    for (let r = 0; r < m; r += 1) {
      const row = r * l;
      for (let j = 0; j < l; j += 1) {
        const y = image[row + j] as number;
        const d = y - (values[j] as number) * (vectors[row + j] as number);
        residual[j] = (residual[j] as number) + d * d;
      }
    }
    let converged = 0;
    let worst = 0;
    const convergedFlags = new Uint8Array(k);
    for (let i = 0; i < k; i += 1) {
      const theta = values[i] as number;
      const above = i === 0 ? Number.POSITIVE_INFINITY : (values[i - 1] as number) - theta;
      const below = theta - (values[i + 1] ?? 0);
      const gap = Math.max(Math.min(above, below), 0);
      const r = Math.sqrt(residual[i] as number);
      if (r <= Math.max(options.tolerance * gap, floor)) {
        converged += 1;
        convergedFlags[i] = 1;
      } else worst = Math.max(worst, r / Math.max(Math.abs(theta), floor));
    }
    options.onIteration?.(iteration, k - converged);
    const done = converged === k || iteration >= options.maxIterations || l === m;
    // Stagnation: residuals stuck at a rounding level that `floor` underestimates.
    if (!done && worst < 0.9 * best) {
      best = worst;
      sinceBest = 0;
    } else if (!done) {
      sinceBest += 1;
    }
    if (done || sinceBest >= 4) {
      return { values: values.slice(0, k), vectors: takeColumns(vectors, m, l, k), iterations: iteration, products, converged };
    }

    // Lock converged wanted pairs: the filter acts on the other columns, with the locked
    // vectors projected out after every product, so the amplification cap below depends on
    // the largest unconverged eigenvalue rather than the largest one.
    const lockedColumns: number[] = [];
    const freeColumns: number[] = [];
    for (let j = 0; j < l; j += 1) (j < k && convergedFlags[j] ? lockedColumns : freeColumns).push(j);
    const locked = gatherColumns(vectors, m, l, lockedColumns);
    const project = async (block: Float32Array, width: number): Promise<void> => {
      if (lockedColumns.length === 0) return;
      const c = lockedColumns.length;
      const coefficients = await kernels.matmulTransposeA(locked, m, c, block, width);
      const along = await kernels.matmul(locked, m, c, coefficients, width);
      for (let i = 0; i < block.length; i += 1) block[i] = (block[i] as number) - (along[i] as number);
    };
    const u = freeColumns.length;
    const free = gatherColumns(vectors, m, l, freeColumns);
    const freeImage = gatherColumns(image, m, l, freeColumns);
    await project(freeImage, u);
    // Filter: Chebyshev on [0, b] with b the smallest Ritz value, scaled to 1 at theta_k.
    const b = values[l - 1] as number;
    const thetaK = values[k - 1] as number;
    const topFree = values[freeColumns[0] ?? 0] as number;
    let degree = 1;
    if (b > 1e-9 * theta1 && thetaK > b) {
      const top = 2 * (topFree / b) - 1;
      const wanted = 2 * (thetaK / b) - 1;
      while (degree < maxDegree && chebyshevOutside(degree + 1, top) / chebyshevOutside(degree + 1, wanted) <= MAX_AMPLIFICATION) degree += 1;
    }
    let y: Float32Array;
    if (degree === 1 || !(thetaK > b)) {
      // A power step: S times the Ritz vectors, which is already computed.
      y = freeImage;
    } else {
      // Scaled three-term recurrence (Saad): the centre c and half-width e of [0, b];
      // Y_1 = (S - c) Y_0 sigma_1 / e, Y_{j+1} = 2 sigma' / e (S - c) Y_j - sigma sigma' Y_{j-1}.
      const c = b / 2;
      const e = b / 2;
      const sigma1 = e / (thetaK - c);
      let sigma = sigma1;
      let previous = free;
      let current = new Float32Array(m * u);
      for (let i = 0; i < current.length; i += 1) current[i] = ((freeImage[i] as number) - c * (free[i] as number)) * (sigma1 / e);
      for (let step = 2; step <= degree; step += 1) {
        options.signal?.throwIfAborted();
        const sigmaNext = 1 / (2 / sigma1 - sigma);
        const product = await kernels.matmul(s, m, m, current, u);
        await project(product, u);
        products += 1;
        const next = new Float32Array(m * u);
        const scale = (2 * sigmaNext) / e;
        const back = sigma * sigmaNext;
        for (let i = 0; i < next.length; i += 1) {
          next[i] = scale * ((product[i] as number) - c * (current[i] as number)) - back * (previous[i] as number);
        }
        previous = current;
        current = next;
        sigma = sigmaNext;
      }
      y = current;
    }
    y = concatColumns(locked, lockedColumns.length, y, u, m);
    // Normalise columns (so the float32 Gram of the block is well scaled), then orthonormalise.
    const norms = new Float64Array(l);
    for (let r = 0; r < m; r += 1) for (let j = 0; j < l; j += 1) norms[j] = (norms[j] as number) + (y[r * l + j] as number) ** 2;
    for (let j = 0; j < l; j += 1) norms[j] = Math.sqrt(norms[j] as number);
    const normalised = new Float32Array(m * l);
    for (let r = 0; r < m; r += 1) {
      for (let j = 0; j < l; j += 1) {
        const norm = norms[j] as number;
        normalised[r * l + j] = norm > 0 ? (y[r * l + j] as number) / norm : 0;
      }
    }
    q = await orthonormalize(normalised, m, l, kernels);
    ritz = await rayleighRitz(s, m, l, q, kernels);
    products += 1;
  }
}

/** Columns `columns` of row-major a (rows x width), as row-major rows x columns.length. */
function gatherColumns(a: Float32Array, rows: number, width: number, columns: readonly number[]): Float32Array {
  const count = columns.length;
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r += 1) for (let j = 0; j < count; j += 1) out[r * count + j] = a[r * width + (columns[j] as number)] as number;
  return out;
}

/** [a b] for row-major a (rows x wa) and b (rows x wb). */
function concatColumns(a: Float32Array, wa: number, b: Float32Array, wb: number, rows: number): Float32Array {
  if (wa === 0) return b;
  const out = new Float32Array(rows * (wa + wb));
  for (let r = 0; r < rows; r += 1) {
    out.set(a.subarray(r * wa, (r + 1) * wa), r * (wa + wb));
    out.set(b.subarray(r * wb, (r + 1) * wb), r * (wa + wb) + wa);
  }
  return out;
}

function takeColumns(a: Float32Array, rows: number, width: number, count: number): Float32Array {
  if (count === width) return a;
  const out = new Float32Array(rows * count);
  for (let r = 0; r < rows; r += 1) out.set(a.subarray(r * width, r * width + count), r * count);
  return out;
}

/** An orthonormal basis of the columns of row-major y (m x l): CholeskyQR2, or Gram-Schmidt when that breaks down. */
export async function orthonormalize(y: Float32Array, m: number, l: number, kernels: MatrixKernels): Promise<Float32Array> {
  let current: Float32Array = y;
  for (let pass = 0; pass < 2; pass += 1) {
    const c = await kernels.matmulTransposeA(current, m, l, current, l);
    const inverse = choleskyInverseFactor(c, l);
    if (!inverse) return gramSchmidt(y, m, l);
    current = await kernels.matmul(current, m, l, inverse, l);
  }
  return current;
}

/**
 * For the symmetric positive definite l x l matrix c (float32), R^-1 where c = R^T R
 * (R upper triangular), as float32 row-major; undefined when c is not numerically
 * positive definite in float32 (a pivot below 1e-5 of the largest diagonal).
 */
function choleskyInverseFactor(c: Float32Array, l: number): Float32Array | undefined {
  // Lower L = R^T, row by row, so that every inner loop is a contiguous dot product.
  const lower = new Float64Array(l * l);
  let maxDiagonal = 0;
  for (let i = 0; i < l; i += 1) maxDiagonal = Math.max(maxDiagonal, c[i * l + i] as number);
  if (!(maxDiagonal > 0)) return undefined;
  for (let i = 0; i < l; i += 1) {
    const ri = i * l;
    for (let j = 0; j <= i; j += 1) {
      const rj = j * l;
      let sum = 0.5 * ((c[ri + j] as number) + (c[rj + i] as number));
      for (let p = 0; p < j; p += 1) sum -= (lower[ri + p] as number) * (lower[rj + p] as number);
      if (j < i) {
        lower[ri + j] = sum / (lower[rj + j] as number);
      } else {
        if (!(sum > 1e-5 * maxDiagonal)) return undefined;
        lower[ri + i] = Math.sqrt(sum);
      }
    }
  }
  // Column j of L^-1 by forward substitution, stored contiguously as row j of the output:
  // out[j][i] = (L^-1)[i][j] = (R^-1)[j][i], so `out` is R^-1 row-major.
  const out = new Float32Array(l * l);
  const x = new Float64Array(l);
  for (let j = 0; j < l; j += 1) {
    x.fill(0);
    x[j] = 1 / (lower[j * l + j] as number);
    for (let i = j + 1; i < l; i += 1) {
      const ri = i * l;
      let sum = 0;
      for (let p = j; p < i; p += 1) sum += (lower[ri + p] as number) * (x[p] as number);
      x[i] = -sum / (lower[ri + i] as number);
    }
    for (let i = j; i < l; i += 1) out[j * l + i] = x[i] as number;
  }
  return out;
}

/**
 * Modified Gram-Schmidt with re-orthogonalisation in float64; columns that vanish (the block
 * is rank-deficient) are replaced by seeded random directions orthogonal to the others.
 */
export function gramSchmidt(y: Float32Array, m: number, l: number): Float32Array {
  const columns: Float64Array[] = [];
  const random = createRandom(0x9e3779b9);
  for (let j = 0; j < l; j += 1) {
    const v = new Float64Array(m);
    for (let r = 0; r < m; r += 1) v[r] = y[r * l + j] as number;
    let original = norm(v);
    for (let attempt = 0; ; attempt += 1) {
      for (let pass = 0; pass < 2; pass += 1) {
        for (const u of columns) {
          let dot = 0;
          for (let r = 0; r < m; r += 1) dot += (u[r] as number) * (v[r] as number);
          for (let r = 0; r < m; r += 1) v[r] = (v[r] as number) - dot * (u[r] as number);
        }
      }
      const n = norm(v);
      if (n > 1e-6 * original && n > 0) {
        for (let r = 0; r < m; r += 1) v[r] = (v[r] as number) / n;
        break;
      }
      if (attempt > 10) throw new Error(`gramSchmidt: cannot complete an orthonormal basis of ${l} vectors in dimension ${m}`);
      for (let r = 0; r < m; r += 1) v[r] = random.normal();
      original = norm(v);
    }
    columns.push(v);
  }
  const out = new Float32Array(m * l);
  columns.forEach((v, j) => {
    for (let r = 0; r < m; r += 1) out[r * l + j] = v[r] as number;
  });
  return out;
}

function norm(v: Float64Array): number {
  let sum = 0;
  for (let i = 0; i < v.length; i += 1) sum += (v[i] as number) ** 2;
  return Math.sqrt(sum);
}
