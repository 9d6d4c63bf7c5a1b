/**
 * A fitted PCA basis: projects rows onto it, saves it to and loads it from a `.pca` file
 * (see format.ts). A basis larger than the memory budget stays in its file and projection
 * streams it block of features by block, so a conv1 basis (3.3 GB at k = 256) can be used
 * in bounded memory; each projection call then reads the file once, so project in batches.
 */
import { createHash } from 'node:crypto';
import { closeSync, constants, copyFileSync, fstatSync, openSync, readSync, renameSync, rmSync } from 'node:fs';
import { resolve } from 'node:path';
import { BasisFileWriter, readHeader, type HeaderFields, type PcaHeader } from './format.js';
import { MatrixKernels } from './kernels.js';
import { findNonFinite, NonFiniteValueError } from './validate.js';

export interface LoadPcaOptions {
  /** Largest basis (bytes) held in memory; a larger one is streamed from its file. Default 1 GiB. */
  readonly memoryBudget?: number;
  /** onnxruntime threads for projectAsync. Default: onnxruntime's choice. */
  readonly threads?: number;
}

/** Bytes of basis read per block when streaming from the file. */
const STREAM_BLOCK_BYTES = 64 << 20;
export const DEFAULT_MEMORY_BUDGET = 1 << 30;

interface BasisFile {
  fd: number;
  path: string;
  /** Byte offset of the basis (feature-major float32). */
  readonly offset: number;
  /** A fit's spill file, deleted by dispose() unless saved. */
  temporary: boolean;
}

/** Where the basis lives: in memory (feature-major D x k) or in a file. */
export type BasisStorage = { readonly kind: 'memory'; readonly data: Float32Array } | { readonly kind: 'file'; readonly file: BasisFile };

export class PcaModel {
  /** Number of components (k). */
  readonly components: number;
  /** Features per input row (D). */
  readonly dimension: number;
  /** Variance of the sample along each component (ddof = 1), largest first. */
  readonly explainedVariance: Float64Array;
  /** explainedVariance over the sample's total variance. */
  readonly explainedVarianceRatio: Float64Array;
  /** sha256 (hex) of the stored mean and basis bytes; equal for equal bases. */
  readonly sha256: string;
  readonly center: boolean;
  readonly whiten: boolean;
  /** The sample mean (zeros when fitted with center: false). */
  readonly mean: Float32Array;
  readonly #header: PcaHeader;
  #storage: BasisStorage | undefined;
  /** mean . basis, subtracted after projecting uncentred rows (so zero inputs can be skipped). */
  readonly #meanProjection: Float64Array;
  /** 1/sqrt(explained variance) when whitening, else 1. */
  readonly #scale: Float64Array;
  readonly #threads: number | undefined;
  #kernels: MatrixKernels | undefined;

  /** @internal Use fitPca() or PcaModel.load(). */
  constructor(header: PcaHeader, mean: Float32Array, storage: BasisStorage, meanProjection: Float64Array, threads?: number) {
    this.#header = header;
    this.components = header.components;
    this.dimension = header.dimension;
    this.explainedVariance = Float64Array.from(header.explainedVariance);
    this.explainedVarianceRatio = Float64Array.from(header.explainedVarianceRatio);
    this.sha256 = header.sha256;
    this.center = header.center;
    this.whiten = header.whiten;
    this.mean = mean;
    this.#storage = storage;
    this.#meanProjection = meanProjection;
    this.#scale = this.explainedVariance.map((v) => (header.whiten ? (v > 0 ? 1 / Math.sqrt(v) : 0) : 1));
    this.#threads = threads;
  }

  /** The header of the basis file: shape, options, variances, sha256 (no large arrays). */
  toJSON(): PcaHeader {
    return this.#header;
  }

  /** True when the basis is held in memory rather than streamed from its file. */
  get inMemory(): boolean {
    return this.#live().kind === 'memory';
  }

  #live(): BasisStorage {
    if (!this.#storage) throw new Error('This PcaModel has been disposed');
    return this.#storage;
  }

  #checkRows(rows: Float32Array, count: number, where: string): void {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`${where}: count must be a non-negative integer; got ${count}`);
    if (rows.length !== count * this.dimension) {
      throw new RangeError(`${where}: ${rows.length} values for ${count} rows of ${this.dimension} features; expected ${count * this.dimension}`);
    }
    const bad = findNonFinite(rows, count, this.dimension);
    if (bad) throw new NonFiniteValueError(bad.row, bad.column, bad.value, where);
  }

  /**
   * Projects `count` rows (row-major count x dimension) onto the basis: (x - mean) V,
   * divided by sqrt(explained variance) when whitening. Returns count x components float32.
   * Runs in plain JavaScript (synchronous; ~1-2 GFLOP/s, faster on sparse post-ReLU rows);
   * for large batches projectAsync is much faster.
   */
  project(rows: Float32Array, count: number): Float32Array {
    this.#checkRows(rows, count, 'project');
    const k = this.components;
    const acc = new Float64Array(count * k);
    for (const { block, start, end } of this.#basisBlocks()) accumulateProjection(rows, count, this.dimension, block, start, end, k, acc);
    return this.#finish(acc, count);
  }

  /** Same as project, on onnxruntime's matrix kernels (hundreds of GFLOP/s for batches of rows). */
  async projectAsync(rows: Float32Array, count: number): Promise<Float32Array> {
    this.#checkRows(rows, count, 'projectAsync');
    const k = this.components;
    const d = this.dimension;
    if (count === 0) return new Float32Array(0);
    this.#kernels ??= new MatrixKernels(this.#threads === undefined ? {} : { threads: this.#threads });
    const kernels = this.#kernels;
    let out: Float32Array;
    const storage = this.#live();
    if (storage.kind === 'memory') {
      out = await kernels.centredMatmul(rows, count, d, this.mean, storage.data, k);
    } else {
      const acc = new Float64Array(count * k);
      // The generator reads the next block only after this one's product is done.
      for (const { block, start, end } of this.#basisBlocks()) {
        const w = end - start;
        const x = new Float32Array(count * w);
        for (let r = 0; r < count; r += 1) x.set(rows.subarray(r * d + start, r * d + end), r * w);
        const part = await kernels.centredMatmul(x, count, w, this.mean.subarray(start, end), block, k);
        for (let i = 0; i < part.length; i += 1) acc[i] = (acc[i] as number) + (part[i] as number);
      }
      out = Float32Array.from(acc);
    }
    if (this.whiten) {
      for (let r = 0; r < count; r += 1) for (let j = 0; j < k; j += 1) out[r * k + j] = (out[r * k + j] as number) * (this.#scale[j] as number);
    }
    return out;
  }

  /** Feature-major basis rows [start, end): (end - start) x components float32 (sklearn's components_.T). */
  readBasis(start: number, end: number): Float32Array {
    if (!(Number.isInteger(start) && Number.isInteger(end) && start >= 0 && start <= end && end <= this.dimension)) {
      throw new RangeError(`readBasis: features [${start}, ${end}) outside [0, ${this.dimension})`);
    }
    const storage = this.#live();
    const k = this.components;
    if (storage.kind === 'memory') return storage.data.slice(start * k, end * k);
    const out = new Float32Array((end - start) * k);
    readFully(storage.file.fd, new Uint8Array(out.buffer), storage.file.offset + start * k * 4, storage.file.path);
    return out;
  }

  /**
   * Consecutive feature blocks of the basis (the whole basis at once when it is in memory).
   * A file-backed basis is read into one reused buffer: use each block before the next.
   */
  *#basisBlocks(): Generator<{ block: Float32Array; start: number; end: number }> {
    const storage = this.#live();
    const k = this.components;
    const d = this.dimension;
    if (storage.kind === 'memory') {
      yield { block: storage.data, start: 0, end: d };
      return;
    }
    const rowsPerBlock = Math.max(1, Math.floor(STREAM_BLOCK_BYTES / (k * 4)));
    const buffer = new Float32Array(Math.min(rowsPerBlock, d) * k);
    for (let start = 0; start < d; start += rowsPerBlock) {
      const end = Math.min(d, start + rowsPerBlock);
      const block = buffer.subarray(0, (end - start) * k);
      readFully(storage.file.fd, new Uint8Array(block.buffer, block.byteOffset, block.byteLength), storage.file.offset + start * k * 4, storage.file.path);
      yield { block, start, end };
    }
  }

  #finish(acc: Float64Array, count: number): Float32Array {
    const k = this.components;
    const out = new Float32Array(count * k);
    for (let r = 0; r < count; r += 1) {
      for (let j = 0; j < k; j += 1) {
        out[r * k + j] = ((acc[r * k + j] as number) - (this.#meanProjection[j] as number)) * (this.#scale[j] as number);
      }
    }
    return out;
  }

  /**
   * Writes the basis file. A basis already in a file is moved there (a fit's temporary
   * file, when on the same file system) or copied; the model then reads from `path`.
   */
  async save(path: string): Promise<void> {
    const storage = this.#live();
    const target = resolve(path);
    if (storage.kind === 'memory') {
      const partial = `${target}.partial-${process.pid}`;
      const writer = new BasisFileWriter(partial, this.dimension, this.components);
      try {
        writer.write(this.mean);
        writer.write(storage.data);
        const header = writer.finish(headerFields(this.#header));
        if (header.sha256 !== this.sha256) throw new Error(`save: basis hash changed in memory (${header.sha256}, expected ${this.sha256})`);
        renameSync(partial, target);
      } catch (error) {
        writer.close();
        rmSync(partial, { force: true });
        throw error;
      }
      return;
    }
    const file = storage.file;
    if (resolve(file.path) === target) {
      file.temporary = false;
      return;
    }
    if (file.temporary) {
      try {
        // The open descriptor stays valid across the rename.
        renameSync(file.path, target);
        file.path = target;
        file.temporary = false;
        return;
      } catch (error) {
        if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
      }
    }
    copyFileSync(file.path, target, constants.COPYFILE_FICLONE);
  }

  /**
   * Opens a basis file written by save(). Checks the format name, version, shape and the
   * sha256 of the data (reading the file once); a basis larger than `memoryBudget` is then
   * streamed from the file by every projection.
   */
  static async load(path: string, options: LoadPcaOptions = {}): Promise<PcaModel> {
    const budget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
    const fd = openSync(path, 'r');
    try {
      const header = readHeader(fd, path, fstatSync(fd).size);
      const { dimension: d, components: k } = header;
      const hash = createHash('sha256');
      const mean = new Float32Array(d);
      readFully(fd, new Uint8Array(mean.buffer), header.mean.offset, path);
      hash.update(new Uint8Array(mean.buffer));
      const inMemory = header.basis.bytes <= budget;
      const data = inMemory ? new Float32Array(d * k) : undefined;
      const meanProjection = new Float64Array(k);
      const rowsPerBlock = Math.max(1, Math.floor(STREAM_BLOCK_BYTES / (k * 4)));
      const buffer = data ? undefined : new Float32Array(Math.min(rowsPerBlock, d) * k);
      for (let start = 0; start < d; start += rowsPerBlock) {
        const end = Math.min(d, start + rowsPerBlock);
        const block = data ? data.subarray(start * k, end * k) : (buffer as Float32Array).subarray(0, (end - start) * k);
        const bytes = new Uint8Array(block.buffer, block.byteOffset, block.byteLength);
        readFully(fd, bytes, header.basis.offset + start * k * 4, path);
        hash.update(bytes);
        addMeanProjection(mean, block, start, end, k, meanProjection);
      }
      const digest = hash.digest('hex');
      if (digest !== header.sha256) throw new Error(`${path}: data sha256 is ${digest}, the header says ${header.sha256}; the file is corrupt`);
      if (data) {
        closeSync(fd);
        return new PcaModel(header, mean, { kind: 'memory', data }, meanProjection, options.threads);
      }
      return new PcaModel(header, mean, { kind: 'file', file: { fd, path: resolve(path), offset: header.basis.offset, temporary: false } }, meanProjection, options.threads);
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }

  /** Releases the file, the onnxruntime sessions, and a fit's unsaved temporary file. */
  async dispose(): Promise<void> {
    const storage = this.#storage;
    this.#storage = undefined;
    if (storage?.kind === 'file') {
      closeSync(storage.file.fd);
      if (storage.file.temporary) rmSync(storage.file.path, { force: true });
    }
    const kernels = this.#kernels;
    this.#kernels = undefined;
    await kernels?.dispose();
  }
}

function headerFields(header: PcaHeader): HeaderFields {
  const { format: _format, version: _version, dtype: _dtype, mean: _mean, basis: _basis, sha256: _sha256, ...fields } = header;
  return fields;
}

/** acc (count x k) += rows[:, start:end] . block; zero inputs (post-ReLU sparsity) cost nothing. */
export function accumulateProjection(
  rows: Float32Array,
  count: number,
  d: number,
  block: Float32Array,
  start: number,
  end: number,
  k: number,
  acc: Float64Array,
): void {
  // Feature tiles small enough that their basis rows stay in cache across the batch's rows.
  const tile = Math.max(1, Math.floor((256 << 10) / (k * 4)));
  for (let t0 = start; t0 < end; t0 += tile) {
    const t1 = Math.min(end, t0 + tile);
    for (let r = 0; r < count; r += 1) {
      const xo = r * d;
      const ao = r * k;
      for (let f = t0; f < t1; f += 1) {
        const x = rows[xo + f] as number;
        if (x === 0) continue;
        const vo = (f - start) * k;
        let j = 0;
        for (; j + 4 <= k; j += 4) {
          acc[ao + j] = (acc[ao + j] as number) + x * (block[vo + j] as number);
          acc[ao + j + 1] = (acc[ao + j + 1] as number) + x * (block[vo + j + 1] as number);
          acc[ao + j + 2] = (acc[ao + j + 2] as number) + x * (block[vo + j + 2] as number);
          acc[ao + j + 3] = (acc[ao + j + 3] as number) + x * (block[vo + j + 3] as number);
        }
        for (; j < k; j += 1) acc[ao + j] = (acc[ao + j] as number) + x * (block[vo + j] as number);
      }
    }
  }
}

/** out (k) += mean[start:end] . block. */
export function addMeanProjection(mean: Float32Array, block: Float32Array, start: number, end: number, k: number, out: Float64Array): void {
  for (let f = start; f < end; f += 1) {
    const m = mean[f] as number;
    if (m === 0) continue;
    const vo = (f - start) * k;
    for (let j = 0; j < k; j += 1) out[j] = (out[j] as number) + m * (block[vo + j] as number);
  }
}

function readFully(fd: number, bytes: Uint8Array, position: number, path: string): void {
  let done = 0;
  while (done < bytes.length) {
    const n = readSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), position + done);
    if (n === 0) throw new Error(`${path}: unexpected end of file at byte ${position + done}`);
    done += n;
  }
}
