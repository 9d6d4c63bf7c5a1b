/**
 * Initial embeddings, as sklearn 1.2 makes them: the first two principal components scaled so
 * that the first has standard deviation 1e-4 (`pca / np.std(pca[:, 0]) * 1e-4`), or Gaussian
 * noise with standard deviation 1e-4.
 *
 * The components come from randomized subspace iteration (what sklearn's PCA(svd_solver=
 * 'randomized') does: 2 + 10 oversampled directions, 7 power iterations) followed by an exact
 * eigen-decomposition of the small projected covariance, so the result matches sklearn's up to
 * the sign of each axis; signs are fixed like sklearn's svd_flip (largest |score| positive).
 */
import type { RandomSource } from '../random.js';
import { sharedFloat64 } from './buffers.js';
import type { Executor } from './executor.js';

const INIT_STD = 1e-4;
const OVERSAMPLES = 10;
const POWER_ITERATIONS = 7;

export function randomInit(n: number, random: RandomSource): Float64Array {
  const y = new Float64Array(2 * n);
  for (let e = 0; e < 2 * n; e++) y[e] = INIT_STD * random.normal();
  return y;
}

/** Rows per chunk of the PCA passes (each chunk adds its part of (X - mean)^T z into its own slot). */
export const PCA_CHUNK = 512;

/**
 * One pass of the power iteration over a chunk of rows: z_i = (x_i - mean) v for each row and,
 * when `partials` is given, the chunk's (X - mean)^T z into partials[chunk * dim * l ...]
 * (column-major like v). Summing the chunks' parts in chunk order makes the result the same
 * for any number of threads.
 */
export interface PcaPassTask {
  kind: 'pca-pass';
  data: Float32Array;
  n: number;
  dim: number;
  l: number;
  mean: Float64Array;
  /** dim x l, column-major: direction c at v[c * dim ...]. */
  v: Float64Array;
  /** n x l, row-major. */
  z: Float64Array;
  partials: Float64Array | null;
}

export function pcaPassChunk(task: PcaPassTask, chunk: number): void {
  const { data, dim, l, mean, v, z } = task;
  const from = chunk * PCA_CHUNK;
  const to = Math.min(task.n, from + PCA_CHUNK);
  const next = task.partials?.subarray(chunk * dim * l, (chunk + 1) * dim * l);
  next?.fill(0);
  const row = new Float64Array(dim);
  for (let i = from; i < to; i++) {
    const o = i * dim;
    for (let d = 0; d < dim; d++) row[d] = (data[o + d] as number) - (mean[d] as number);
    projectRow(row, v, dim, l, z, i * l);
    if (next !== undefined) addOuter(next, row, dim, z, i * l, l);
  }
}

/**
 * n x 2 PCA scores scaled to std(column 0) = 1e-4; falls back to randomInit if the data has no
 * spread. The passes over the data run on the executor's threads (`data` must be shared when
 * it has workers); the result does not depend on their number.
 */
export async function pcaInit(
  data: Float32Array,
  n: number,
  dim: number,
  random: RandomSource,
  executor: Executor,
): Promise<Float64Array> {
  const mean = sharedFloat64(dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) + (data[i * dim + d] as number);
  for (let d = 0; d < dim; d++) mean[d] = (mean[d] as number) / n;

  const l = Math.min(dim, n, 2 + OVERSAMPLES);
  const v = sharedFloat64(dim * l);
  for (let e = 0; e < v.length; e++) v[e] = random.normal();
  orthonormalize(v, dim, l);
  const z = sharedFloat64(n * l);
  const chunks = Math.ceil(n / PCA_CHUNK);
  const partials = sharedFloat64(chunks * dim * l);
  const pass: PcaPassTask = { kind: 'pca-pass', data, n, dim, l, mean, v, z, partials };
  for (let it = 0; it < POWER_ITERATIONS; it++) {
    await executor.run(pass);
    // v = (X - mean)^T z, the chunks' parts added in chunk order.
    v.set(partials.subarray(0, dim * l));
    for (let c = 1; c < chunks; c++) {
      const part = partials.subarray(c * dim * l, (c + 1) * dim * l);
      for (let e = 0; e < dim * l; e++) v[e] = (v[e] as number) + (part[e] as number);
    }
    orthonormalize(v, dim, l);
  }
  await executor.run({ ...pass, partials: null });
  // Rayleigh-Ritz: eigenvectors of z^T z give the principal directions within span(v).
  const gram = new Float64Array(l * l);
  for (let i = 0; i < n; i++) {
    for (let a = 0; a < l; a++) {
      const za = z[i * l + a] as number;
      for (let b = a; b < l; b++) gram[a * l + b] = (gram[a * l + b] as number) + za * (z[i * l + b] as number);
    }
  }
  for (let a = 0; a < l; a++) for (let b = 0; b < a; b++) gram[a * l + b] = gram[b * l + a] as number;
  const { values, vectors } = symmetricEigen(gram, l);
  const rank = Array.from({ length: l }, (_, c) => c).sort((a, b) => (values[b] as number) - (values[a] as number));

  const y = new Float64Array(2 * n);
  for (let axis = 0; axis < 2; axis++) {
    const c = axis < l ? (rank[axis] as number) : -1;
    let largest = 0;
    for (let i = 0; i < n; i++) {
      let s = 0;
      if (c >= 0) for (let a = 0; a < l; a++) s += (z[i * l + a] as number) * (vectors[a * l + c] as number);
      y[2 * i + axis] = s;
      if (Math.abs(s) > Math.abs(largest)) largest = s;
    }
    if (largest < 0) for (let i = 0; i < n; i++) y[2 * i + axis] = -(y[2 * i + axis] as number);
  }
  let sum = 0;
  for (let i = 0; i < n; i++) sum += y[2 * i] as number;
  const mu = sum / n;
  let ss = 0;
  for (let i = 0; i < n; i++) ss += ((y[2 * i] as number) - mu) ** 2;
  const std = Math.sqrt(ss / n);
  if (!(std > 0) || !Number.isFinite(std)) return randomInit(n, random);
  const scale = INIT_STD / std;
  for (let e = 0; e < 2 * n; e++) y[e] = (y[e] as number) * scale;
  return y;
}

/** z[zo + c] = row . v_c for the l directions (column-major v), four at a time to share the row's loads. */
function projectRow(row: Float64Array, v: Float64Array, dim: number, l: number, z: Float64Array, zo: number): void {
  let c = 0;
  for (; c + 4 <= l; c += 4) {
    const o0 = c * dim;
    const o1 = o0 + dim;
    const o2 = o1 + dim;
    const o3 = o2 + dim;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let d = 0; d < dim; d++) {
      const x = row[d] as number;
      s0 += x * (v[o0 + d] as number);
      s1 += x * (v[o1 + d] as number);
      s2 += x * (v[o2 + d] as number);
      s3 += x * (v[o3 + d] as number);
    }
    z[zo + c] = s0;
    z[zo + c + 1] = s1;
    z[zo + c + 2] = s2;
    z[zo + c + 3] = s3;
  }
  for (; c < l; c++) {
    const o = c * dim;
    let s = 0;
    for (let d = 0; d < dim; d++) s += (row[d] as number) * (v[o + d] as number);
    z[zo + c] = s;
  }
}

/** next_c += row * z[zo + c] for the l columns of next (column-major), four at a time. */
function addOuter(next: Float64Array, row: Float64Array, dim: number, z: Float64Array, zo: number, l: number): void {
  let c = 0;
  for (; c + 4 <= l; c += 4) {
    const o0 = c * dim;
    const o1 = o0 + dim;
    const o2 = o1 + dim;
    const o3 = o2 + dim;
    const z0 = z[zo + c] as number;
    const z1 = z[zo + c + 1] as number;
    const z2 = z[zo + c + 2] as number;
    const z3 = z[zo + c + 3] as number;
    for (let d = 0; d < dim; d++) {
      const x = row[d] as number;
      next[o0 + d] = (next[o0 + d] as number) + x * z0;
      next[o1 + d] = (next[o1 + d] as number) + x * z1;
      next[o2 + d] = (next[o2 + d] as number) + x * z2;
      next[o3 + d] = (next[o3 + d] as number) + x * z3;
    }
  }
  for (; c < l; c++) {
    const o = c * dim;
    const zc = z[zo + c] as number;
    for (let d = 0; d < dim; d++) next[o + d] = (next[o + d] as number) + (row[d] as number) * zc;
  }
}

/** Modified Gram-Schmidt on the l columns (each `rows` long) of v; a null column is re-drawn as a unit axis. */
function orthonormalize(v: Float64Array, rows: number, l: number): void {
  for (let c = 0; c < l; c++) {
    const co = c * rows;
    for (let p = 0; p < c; p++) {
      const po = p * rows;
      let dot = 0;
      for (let r = 0; r < rows; r++) dot += (v[co + r] as number) * (v[po + r] as number);
      for (let r = 0; r < rows; r++) v[co + r] = (v[co + r] as number) - dot * (v[po + r] as number);
    }
    let norm = 0;
    for (let r = 0; r < rows; r++) norm += (v[co + r] as number) ** 2;
    norm = Math.sqrt(norm);
    if (norm > 1e-300) {
      for (let r = 0; r < rows; r++) v[co + r] = (v[co + r] as number) / norm;
    } else {
      v.fill(0, co, co + rows);
      v[co + (c % rows)] = 1;
    }
  }
}

/** Cyclic Jacobi eigen-decomposition of a small symmetric matrix (row-major); vectors are columns. */
export function symmetricEigen(matrix: Float64Array, size: number): { values: Float64Array; vectors: Float64Array } {
  const a = Float64Array.from(matrix);
  const vectors = new Float64Array(size * size);
  for (let i = 0; i < size; i++) vectors[i * size + i] = 1;
  for (let sweep = 0; sweep < 100; sweep++) {
    let off = 0;
    for (let p = 0; p < size; p++) for (let q = p + 1; q < size; q++) off += (a[p * size + q] as number) ** 2;
    if (off < 1e-30) break;
    for (let p = 0; p < size; p++) {
      for (let q = p + 1; q < size; q++) {
        const apq = a[p * size + q] as number;
        if (apq === 0) continue;
        const app = a[p * size + p] as number;
        const aqq = a[q * size + q] as number;
        const tau = (aqq - app) / (2 * apq);
        const t = Math.sign(tau || 1) / (Math.abs(tau) + Math.sqrt(1 + tau * tau));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = t * c;
        for (let r = 0; r < size; r++) {
          const arp = a[r * size + p] as number;
          const arq = a[r * size + q] as number;
          a[r * size + p] = c * arp - s * arq;
          a[r * size + q] = s * arp + c * arq;
        }
        for (let r = 0; r < size; r++) {
          const apr = a[p * size + r] as number;
          const aqr = a[q * size + r] as number;
          a[p * size + r] = c * apr - s * aqr;
          a[q * size + r] = s * apr + c * aqr;
        }
        for (let r = 0; r < size; r++) {
          const vrp = vectors[r * size + p] as number;
          const vrq = vectors[r * size + q] as number;
          vectors[r * size + p] = c * vrp - s * vrq;
          vectors[r * size + q] = s * vrp + c * vrq;
        }
      }
    }
  }
  const values = new Float64Array(size);
  for (let i = 0; i < size; i++) values[i] = a[i * size + i] as number;
  return { values, vectors };
}
