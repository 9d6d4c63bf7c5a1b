/**
 * Representational dissimilarity matrices: 1 - Pearson correlation between two images'
 * feature vectors (np.corrcoef over rows), kept as the upper triangle only, row by row
 * (i < j, the order of scipy.spatial.distance.squareform).
 */
import { toSource, type FeatureInput } from './features.js';
import { gramOfRows } from './gram.js';

export interface RdmOptions {
  /** Rows (images) to use, ascending or not; all rows when omitted. */
  readonly rows?: Int32Array;
  /** Bytes for one block of columns while accumulating. Default 64 MiB. */
  readonly blockBytes?: number;
  /** Names the layer in errors. */
  readonly label?: string;
  readonly signal?: AbortSignal;
}

/** Raised for an image whose features are all equal: its Pearson correlation is undefined. */
export class ConstantRowError extends RangeError {
  constructor(
    readonly label: string,
    readonly row: number,
  ) {
    super(`${label}: row ${row} is constant (zero variance across its features), so its Pearson correlation with any image is undefined; drop that image or use another layer`);
    this.name = 'ConstantRowError';
  }
}

/** Number of cells above the diagonal of an n x n matrix. */
export function upperTriangleSize(n: number): number {
  return (n * (n - 1)) / 2;
}

/** Upper triangle (i < j, row by row) of the RDM 1 - corr(x_i, x_j). */
export async function rdmUpperTriangle(input: FeatureInput, options: RdmOptions = {}): Promise<Float64Array> {
  const label = options.label ?? 'features';
  const source = toSource(input, label);
  const ids = options.rows ?? null;
  if (ids) {
    for (const row of ids) {
      if (!(row >= 0 && row < source.rows)) throw new RangeError(`${label}: row ${row} requested, but there are ${source.rows} rows (0..${source.rows - 1})`);
    }
  }
  const { gram, n, rowSums, columns } = await gramOfRows(source, ids, {
    centering: 'rows',
    blockBytes: options.blockBytes,
    label,
    signal: options.signal,
  });
  if (n < 2) throw new RangeError(`${label}: an RDM needs at least 2 images, got ${n}`);
  const scale = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    const s = rowSums[i] as number;
    const variance = (gram[i * n + i] as number) - (s * s) / columns;
    if (!(variance > 0)) throw new ConstantRowError(label, ids ? (ids[i] as number) : i);
    scale[i] = 1 / Math.sqrt(variance);
  }
  const out = new Float64Array(upperTriangleSize(n));
  let p = 0;
  for (let i = 0; i < n; i++) {
    const si = rowSums[i] as number;
    const ki = scale[i] as number;
    const row = i * n;
    for (let j = i + 1; j < n; j++) {
      const covariance = (gram[row + j] as number) - (si * (rowSums[j] as number)) / columns;
      out[p++] = 1 - covariance * ki * (scale[j] as number);
    }
  }
  return out;
}
