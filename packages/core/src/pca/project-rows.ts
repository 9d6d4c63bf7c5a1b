/**
 * Projects every row of a matrix (an .npy file of all images) onto a fitted basis, in
 * bounded memory. With the basis in memory, rows go through in batches; with a basis
 * streamed from its file (conv1: 3.3 GB), batches of a few rows would each re-read the whole
 * file, so rows are taken in tiles of many rows and a block of features at a time (strided
 * reads), and the basis is read once per tile.
 */
import { tmpdir } from 'node:os';
import { MatrixKernels } from './kernels.js';
import type { PcaModel } from './model.js';
import { openColumnSource, type PcaSample } from './sample.js';
import { findNonFinite, NonFiniteValueError } from './validate.js';

export interface ProjectRowsOptions {
  /** Receives consecutive projected rows (count x components), in order. */
  readonly onRows: (projected: Float32Array, firstRow: number, count: number) => void | Promise<void>;
  readonly onProgress?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
  /** Bytes for input rows in flight (and onnxruntime's centred copy of them). Default 256 MiB. */
  readonly memoryBudget?: number;
  /** onnxruntime threads (tile mode). Default: onnxruntime's choice. */
  readonly threads?: number;
  /** Where a row-only source is copied if it cannot be read by columns. Default os.tmpdir(). */
  readonly tempDir?: string;
  /** Name for errors, e.g. the file path. Default 'input'. */
  readonly name?: string;
}

export async function projectRows(model: PcaModel, sample: PcaSample, options: ProjectRowsOptions): Promise<void> {
  const d = model.dimension;
  const k = model.components;
  const name = options.name ?? 'input';
  if (sample.columns !== d) throw new RangeError(`${name}: ${sample.columns} columns, the basis was fitted on ${d}`);
  const budget = options.memoryBudget ?? 256 << 20;
  const total = sample.rows;
  if (model.inMemory) {
    // Half the budget per batch: onnxruntime materialises the centred copy of the rows.
    const batch = Math.max(1, Math.min(4096, Math.floor(budget / (8 * d))));
    for (let start = 0; start < total; start += batch) {
      options.signal?.throwIfAborted();
      const count = Math.min(batch, total - start);
      let projected: Float32Array;
      try {
        projected = await model.projectAsync(sample.readRows(start, start + count), count);
      } catch (error) {
        if (error instanceof NonFiniteValueError) throw new NonFiniteValueError(start + error.row, error.column, error.value, name);
        throw error;
      }
      await options.onRows(projected, start, count);
      options.onProgress?.(start + count, total);
    }
    return;
  }
  // Tiles: many rows x one block of features; the basis block is read once per tile. Half
  // the budget per tile, as above.
  const featureBlock = Math.max(1, Math.min(d, Math.floor((64 << 20) / (4 * k))));
  const tileRows = Math.max(1, Math.min(total, Math.floor(budget / (8 * featureBlock))));
  const kernels = new MatrixKernels(options.threads === undefined ? {} : { threads: options.threads });
  try {
    for (let start = 0; start < total; start += tileRows) {
      const count = Math.min(tileRows, total - start);
      const rowIndex = Int32Array.from({ length: count }, (_, i) => start + i);
      const source = openColumnSource(sample, rowIndex, { memoryBytes: budget, tempDir: options.tempDir ?? tmpdir(), signal: options.signal });
      const acc = new Float64Array(count * k);
      try {
        const x = new Float32Array(count * featureBlock);
        for (let f0 = 0; f0 < d; f0 += featureBlock) {
          options.signal?.throwIfAborted();
          const f1 = Math.min(d, f0 + featureBlock);
          const w = f1 - f0;
          const tile = x.subarray(0, count * w);
          source.readBlock(f0, f1, tile);
          const bad = findNonFinite(tile, count, w);
          if (bad) throw new NonFiniteValueError(start + bad.row, f0 + bad.column, bad.value, name);
          const part = await kernels.centredMatmul(tile, count, w, model.mean.subarray(f0, f1), model.readBasis(f0, f1), k);
          for (let i = 0; i < part.length; i += 1) acc[i] = (acc[i] as number) + (part[i] as number);
        }
      } finally {
        source.close();
      }
      const projected = new Float32Array(count * k);
      for (let r = 0; r < count; r += 1) {
        for (let j = 0; j < k; j += 1) {
          const variance = model.explainedVariance[j] as number;
          const scale = model.whiten ? (variance > 0 ? 1 / Math.sqrt(variance) : 0) : 1;
          projected[r * k + j] = (acc[r * k + j] as number) * scale;
        }
      }
      await options.onRows(projected, start, count);
      options.onProgress?.(start + count, total);
    }
  } finally {
    await kernels.dispose();
  }
}
