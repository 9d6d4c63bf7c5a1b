/**
 * Procrustes alignment of two maps of the same images (t-SNE or PCA layouts of two layers,
 * N x d, usually d = 2), so that side-by-side maps share an orientation: the second map is
 * translated, rotated (or reflected) and scaled onto the first. The disparity is
 * scipy.spatial.procrustes's: the sum of squared differences after both maps are centered
 * and scaled to unit Frobenius norm (0 = same shape, at most 1).
 */
import type { FeatureMatrix } from './features.js';
import { determinant, svdSmall } from './svd-small.js';

export interface ProcrustesOptions {
  /** Allow a reflection as well as a rotation (scipy does). Default true. */
  readonly allowReflection?: boolean;
}

export interface ProcrustesResult {
  /** The second map moved onto the first, in the first map's units and position (N x d, row-major). */
  readonly aligned: Float64Array;
  /** scipy's first output: the first map centered and scaled to unit norm. */
  readonly standardizedFirst: Float64Array;
  /** scipy's second output: the second map standardized, rotated and scaled onto standardizedFirst. */
  readonly standardizedSecond: Float64Array;
  /** scipy's disparity (sum of squared differences of the standardized maps). */
  readonly disparity: number;
  /**
   * aligned_i = (second_i - meanSecond) · rotation · scale + meanFirst, with rotation a
   * d x d orthogonal matrix (row-major) applied to row vectors.
   */
  readonly rotation: Float64Array;
  readonly scale: number;
  readonly meanFirst: Float64Array;
  readonly meanSecond: Float64Array;
  /** True when the best fit mirrors the second map. */
  readonly reflection: boolean;
}

function standardize(map: FeatureMatrix, label: string): { data: Float64Array; mean: Float64Array; norm: number } {
  const { rows, columns } = map;
  if (map.data.length !== rows * columns) throw new RangeError(`${label} map: ${rows} x ${columns} needs ${rows * columns} values, data has ${map.data.length}`);
  const mean = new Float64Array(columns);
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const value = map.data[r * columns + c] as number;
      if (!Number.isFinite(value)) throw new RangeError(`${label} map: point ${r} has ${value} in dimension ${c}; expected finite coordinates`);
      mean[c] = (mean[c] as number) + value;
    }
  }
  for (let c = 0; c < columns; c++) mean[c] = (mean[c] as number) / rows;
  const data = new Float64Array(rows * columns);
  let sum = 0;
  for (let i = 0; i < data.length; i++) {
    const value = (map.data[i] as number) - (mean[i % columns] as number);
    data[i] = value;
    sum += value * value;
  }
  const norm = Math.sqrt(sum);
  if (!(norm > 0)) throw new RangeError(`${label} map: all ${rows} points coincide; Procrustes needs at least 2 distinct points`);
  for (let i = 0; i < data.length; i++) data[i] = (data[i] as number) / norm;
  return { data, mean, norm };
}

export function procrustes(first: FeatureMatrix, second: FeatureMatrix, options: ProcrustesOptions = {}): ProcrustesResult {
  const { allowReflection = true } = options;
  if (first.rows !== second.rows || first.columns !== second.columns) {
    throw new RangeError(`maps are ${first.rows} x ${first.columns} and ${second.rows} x ${second.columns}; expected the same images (rows) and dimensions`);
  }
  const n = first.rows;
  const d = first.columns;
  if (n < 2) throw new RangeError(`Procrustes needs at least 2 points, got ${n}`);
  const a = standardize(first, 'first');
  const b = standardize(second, 'second');
  // scipy.linalg.orthogonal_procrustes(A, B): svd(Aᵀ B) = U S Vᵀ, R = U Vᵀ, scale = sum(S); B is mapped by Rᵀ.
  const m = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    for (let i = 0; i < d; i++) {
      const x = a.data[r * d + i] as number;
      for (let j = 0; j < d; j++) m[i * d + j] = (m[i * d + j] as number) + x * (b.data[r * d + j] as number);
    }
  }
  const { u, s, v } = svdSmall(m, d);
  let fitScale = s.reduce((sum, value) => sum + value, 0);
  const bestFitReflects = determinant(u, d) * determinant(v, d) < 0;
  if (bestFitReflects && !allowReflection) {
    // Kabsch: flip the direction paired with the smallest singular value.
    for (let i = 0; i < d; i++) u[i * d + d - 1] = -(u[i * d + d - 1] as number);
    fitScale -= 2 * (s[d - 1] as number);
  }
  // rotation = Rᵀ = V Uᵀ.
  const rotation = new Float64Array(d * d);
  for (let i = 0; i < d; i++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let t = 0; t < d; t++) sum += (v[i * d + t] as number) * (u[j * d + t] as number);
      rotation[i * d + j] = sum;
    }
  }
  const standardizedSecond = new Float64Array(n * d);
  const aligned = new Float64Array(n * d);
  let disparity = 0;
  for (let r = 0; r < n; r++) {
    for (let j = 0; j < d; j++) {
      let sum = 0;
      for (let i = 0; i < d; i++) sum += (b.data[r * d + i] as number) * (rotation[i * d + j] as number);
      const value = sum * fitScale;
      standardizedSecond[r * d + j] = value;
      aligned[r * d + j] = value * a.norm + (a.mean[j] as number);
      disparity += ((a.data[r * d + j] as number) - value) ** 2;
    }
  }
  return {
    aligned,
    standardizedFirst: a.data,
    standardizedSecond,
    disparity,
    rotation,
    scale: (fitScale * a.norm) / b.norm,
    meanFirst: a.mean,
    meanSecond: b.mean,
    reflection: determinant(rotation, d) < 0,
  };
}
