/**
 * A 2-D float32 or float64 .npy file as a FeatureSource: any block of rows x columns is read
 * with positional reads, so a layer larger than memory (conv1 of 73,000 images is 235 GB)
 * can be streamed in row blocks or column blocks. (NpyMatrixReader in ../npy.ts reads whole
 * float32 rows only; external RDMs are often float64.)
 */
import { closeSync, fstatSync, openSync, readSync } from 'node:fs';
import { parseNpyHeader } from '../npy.js';
import type { FeatureSource } from './features.js';

const DTYPES = { '<f4': 4, '<f8': 8 } as const;

export class NpyFeatureSource implements FeatureSource {
  readonly rows: number;
  readonly columns: number;
  readonly dtype: '<f4' | '<f8';
  /** True for a Fortran-ordered file: stored column by column (read as its transpose). */
  readonly fortranOrder: boolean;
  readonly #fd: number;
  readonly #offset: number;
  readonly #itemSize: number;

  /**
   * `transposeFortran`: read a Fortran-ordered file as its transpose instead of refusing it
   * (harmless for a matrix that must be symmetric, such as an RDM).
   */
  constructor(
    readonly path: string,
    readonly options: { readonly transposeFortran?: boolean } = {},
  ) {
    this.#fd = openSync(path, 'r');
    try {
      const probe = new Uint8Array(65536);
      const got = readSync(this.#fd, probe, 0, probe.length, 0);
      const header = parseNpyHeader(probe.subarray(0, got), path);
      const itemSize = (DTYPES as Record<string, number>)[header.dtype];
      if (itemSize === undefined) {
        throw new TypeError(`${path}: dtype ${header.dtype}; expected float32 ('<f4') or float64 ('<f8'), e.g. arr.astype(np.float32)`);
      }
      if (header.shape.length !== 2) throw new TypeError(`${path}: shape (${header.shape.join(', ')}); expected a 2-D matrix`);
      const [stored0, stored1] = header.shape as [number, number];
      const [rows, columns] = header.fortranOrder ? [stored1, stored0] : [stored0, stored1];
      const needed = header.dataOffset + rows * columns * itemSize;
      const size = fstatSync(this.#fd).size;
      if (size < needed) throw new TypeError(`${path}: ${size} bytes, but shape (${rows}, ${columns}) of ${header.dtype} needs ${needed}: truncated`);
      this.rows = rows;
      this.columns = columns;
      this.dtype = header.dtype as '<f4' | '<f8';
      this.fortranOrder = header.fortranOrder;
      this.#offset = header.dataOffset;
      this.#itemSize = itemSize;
    } catch (error) {
      closeSync(this.#fd);
      throw error;
    }
  }

  read(rowStart: number, rowEnd: number, colStart: number, colEnd: number): Float32Array | Float64Array {
    if (!(rowStart >= 0 && rowStart <= rowEnd && rowEnd <= this.rows && colStart >= 0 && colStart < colEnd && colEnd <= this.columns)) {
      throw new RangeError(`${this.path}: block rows [${rowStart}, ${rowEnd}) x columns [${colStart}, ${colEnd}) outside ${this.rows} x ${this.columns}`);
    }
    if (this.fortranOrder && !this.options.transposeFortran) throw new TypeError(`${this.path}: Fortran-ordered array; save it with np.ascontiguousarray(arr) first`);
    const width = colEnd - colStart;
    const count = (rowEnd - rowStart) * width;
    const out = this.#itemSize === 4 ? new Float32Array(count) : new Float64Array(count);
    const bytes = new Uint8Array(out.buffer);
    const rowBytes = this.columns * this.#itemSize;
    if (width === this.columns) {
      this.#readFully(bytes, this.#offset + rowStart * rowBytes);
    } else {
      for (let r = rowStart; r < rowEnd; r++) {
        const at = (r - rowStart) * width * this.#itemSize;
        this.#readFully(bytes.subarray(at, at + width * this.#itemSize), this.#offset + r * rowBytes + colStart * this.#itemSize);
      }
    }
    return out;
  }

  #readFully(target: Uint8Array, position: number): void {
    let done = 0;
    while (done < target.length) {
      const n = readSync(this.#fd, target, done, Math.min(target.length - done, 1 << 30), position + done);
      if (n === 0) throw new Error(`${this.path}: unexpected end of file`);
      done += n;
    }
  }

  close(): void {
    closeSync(this.#fd);
  }
}
