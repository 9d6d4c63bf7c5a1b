/**
 * Gram matrices (dot products between images) of a set of rows, accumulated over blocks
 * of columns: memory is rows² for the result plus one rows x chunk block, whatever the
 * feature dimension, so a 3.2M-wide conv1 of a few thousand images is never held whole.
 */
import { dotRows } from './dot.js';
import { readRowsInto, type FeatureSource } from './features.js';
import type { MatrixKernels } from './kernel.js';

/**
 * How rows are shifted before their dot products are taken:
 * - 'none': raw dot products (kNN distances);
 * - 'columns': each column centered over the chosen rows (linear CKA's centering, exact
 *   because a column block holds whole columns);
 * - 'rows': each row shifted by the mean of its first block, which leaves Pearson
 *   correlations unchanged but avoids the cancellation of sum(x²) - (sum x)²/D.
 */
export type GramCentering = 'none' | 'columns' | 'rows';

export interface GramOptions {
  readonly centering?: GramCentering;
  /** Bytes for one column block (rows x chunk float64). Default 64 MiB. */
  readonly blockBytes?: number;
  /** Names the layer in errors. */
  readonly label?: string;
  readonly signal?: AbortSignal;
  /**
   * onnxruntime's float32 products (each column block's product summed into float64) instead
   * of the float64 kernel. Default: the float64 kernel.
   */
  readonly kernels?: MatrixKernels;
}

export interface Gram {
  /** n x n dot products of the (shifted) rows. */
  readonly gram: Float64Array;
  readonly n: number;
  /** Row sums of the shifted rows ('rows' centering; the raw row sums otherwise). */
  readonly rowSums: Float64Array;
  /** Feature dimension the products run over. */
  readonly columns: number;
}

export const DEFAULT_BLOCK_BYTES = 64 * 2 ** 20;

/** Columns per block so that `rows` x that many float64 fit in `bytes` (at least 1). */
export function columnsPerBlock(rows: number, columns: number, bytes: number): number {
  return Math.max(1, Math.min(columns, Math.floor(bytes / (8 * Math.max(rows, 1)))));
}

/** Dot products between the rows `rowIds` (all rows when null) of a source. */
export async function gramOfRows(source: FeatureSource, rowIds: Int32Array | null, options: GramOptions = {}): Promise<Gram> {
  const { centering = 'none', blockBytes = DEFAULT_BLOCK_BYTES, label = 'features', signal, kernels } = options;
  const n = rowIds ? rowIds.length : source.rows;
  const columns = source.columns;
  const gram = new Float64Array(n * n);
  const rowSums = new Float64Array(n);
  const shift = new Float64Array(n);
  const width = columnsPerBlock(n, columns, blockBytes);
  const block = new Float64Array(n * width);
  const single = kernels ? new Float32Array(n * width) : undefined;
  for (let c0 = 0; c0 < columns; c0 += width) {
    signal?.throwIfAborted();
    const c1 = Math.min(columns, c0 + width);
    const w = c1 - c0;
    await readRowsInto(source, rowIds, 0, n, c0, c1, block, label);
    if (centering === 'columns') {
      for (let c = 0; c < w; c++) {
        let mean = 0;
        for (let r = 0; r < n; r++) mean += block[r * w + c] as number;
        mean /= n;
        for (let r = 0; r < n; r++) block[r * w + c] = (block[r * w + c] as number) - mean;
      }
    }
    for (let r = 0; r < n; r++) {
      const base = r * w;
      if (centering === 'rows') {
        if (c0 === 0) {
          let mean = 0;
          for (let c = 0; c < w; c++) mean += block[base + c] as number;
          shift[r] = mean / w;
        }
        const s = shift[r] as number;
        for (let c = 0; c < w; c++) block[base + c] = (block[base + c] as number) - s;
      }
      let sum = 0;
      for (let c = 0; c < w; c++) sum += block[base + c] as number;
      rowSums[r] = (rowSums[r] as number) + sum;
    }
    if (kernels && single) {
      const part = single.subarray(0, n * w);
      for (let i = 0; i < n * w; i++) part[i] = block[i] as number;
      await kernels.accumulateGram(part, n, w, gram);
    } else {
      dotRows(block, n, block, n, w, gram, true, true);
    }
  }
  // onnxruntime fills the upper triangle only.
  if (kernels) for (let i = 0; i < n; i++) for (let j = i + 1; j < n; j++) gram[j * n + i] = gram[i * n + j] as number;
  return { gram, n, rowSums, columns };
}
