/**
 * Fits PCA on a sample of up to `maxSamples` rows of a matrix whose rows can be millions of
 * features wide, in memory bounded by `memoryBudget` whatever the width.
 *
 * Method (samples n <= width D, the usual case): the Gram matrix G = Xc Xc^T (n x n) is
 * accumulated over column blocks of the sample (each block holds every sampled row, so its
 * column means and centring are exact), with the products on onnxruntime in float32 and the
 * sum over blocks in float64. The top-k eigenpairs (theta_i, u_i) of G give the components
 * v_i = Xc^T u_i / sqrt(theta_i), computed in a second pass over the column blocks and written
 * straight to the basis (in memory, or a file when it exceeds a quarter of the budget). When n > D
 * the covariance Xc^T Xc (D x D) is decomposed instead. Explained variance is theta_i / (n-1),
 * as sklearn's PCA.
 *
 * Signs follow sklearn's svd_flip (u-based): the entry of u_i (the sample's scores on
 * component i) largest in absolute value is made positive, so a fit is reproducible and
 * matches sklearn's signs on the same sample.
 */
import { createHash, randomBytes } from 'node:crypto';
import { openSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { symmetricEigen } from './dense-eigen.js';
import { BasisFileWriter, completeHeader, type HeaderFields, type PcaSolverInfo } from './format.js';
import { MatrixKernels } from './kernels.js';
import { addMeanProjection, DEFAULT_MEMORY_BUDGET, PcaModel } from './model.js';
import { openColumnSource, selectSampleRows, type ColumnSource, type PcaSample } from './sample.js';
import { subspaceEigen, type EigenResult } from './subspace-eigen.js';
import { findNonFinite, NonFiniteValueError } from './validate.js';

/** pgvector's HNSW index takes vectors of at most 2,000 dimensions. */
export const MAX_COMPONENTS = 2000;

export interface PcaProgress {
  /** 'gather': copying rows of a source without column reads; 'gram': accumulating the Gram/covariance matrix; 'eigen': solver iterations; 'basis': computing the components. */
  readonly phase: 'gather' | 'gram' | 'eigen' | 'basis';
  readonly done: number;
  readonly total: number;
}

export interface PcaOptions {
  /** Number of components k, 1..2000 and at most min(samples, width). Default 256. */
  readonly components?: number;
  /** Subtract the sample mean before decomposing. Default true (as sklearn's PCA). */
  readonly center?: boolean;
  /** Scale projections to unit variance (divide by sqrt(explained variance)). Default false. */
  readonly whiten?: boolean;
  /** Seed for the row subsample and the eigensolver's start vectors. Default 0. */
  readonly seed?: number;
  /** Most rows fitted on; a larger input is subsampled (seeded, without replacement). Default 5000. */
  readonly maxSamples?: number;
  readonly onProgress?: (progress: PcaProgress) => void;
  readonly signal?: AbortSignal;
  /** onnxruntime intra-op threads. Default: onnxruntime's choice (one per core). */
  readonly threads?: number;
  /**
   * Memory for sample blocks, the basis and the solver, in bytes (the runtime itself, ~250 MB,
   * comes on top). Default 1 GiB. The Gram matrix, its copies and the solver's blocks
   * (about 16 n^2 bytes: 420 MB at n = 5000, k = 256) come out of it; the rest sets how many
   * columns are read per block. A basis larger than a quarter of it is written to a file.
   */
  readonly memoryBudget?: number;
  /** Where a basis too large for memory (and a copied sample) are written. Default os.tmpdir(). */
  readonly tempDir?: string;
  /** 'dense' (tridiagonal QL on the whole n x n matrix), 'subspace', or 'auto' (dense when n <= 400 or k is near n). Default 'auto'. */
  readonly eigensolver?: 'auto' | 'dense' | 'subspace';
  /** Most subspace iterations. Default 100. */
  readonly maxIterations?: number;
}

const DENSE_LIMIT = 400;

/** Extra vectors the subspace solver iterates beyond k. */
function oversampleFor(k: number): number {
  return Math.min(256, Math.max(32, Math.ceil(k / 2)));
}
/** Largest output of one second-pass product (components of a block of features), at most budget / 16. */
const PART_BYTES = 32 << 20;
/** Fewest columns per block worth a product on onnxruntime. */
const MIN_BLOCK_COLUMNS = 256;

/** Fails early, with numbers, when the fixed costs leave no room for column blocks. */
function checkRoom(available: number, perColumn: number, what: string, budget: number, n: number): void {
  const needed = perColumn * MIN_BLOCK_COLUMNS;
  if (available < needed) {
    throw new RangeError(
      `memoryBudget ${(budget / 2 ** 20).toFixed(0)} MiB is too small for ${what} of ${n} samples: ` +
        `${((budget - available + needed) / 2 ** 20).toFixed(0)} MiB needed at least; raise memoryBudget or lower maxSamples`,
    );
  }
}

function checkInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer in [${min}, ${max}]; got ${value}`);
  }
}

export async function fitPca(sample: PcaSample, options: PcaOptions = {}): Promise<PcaModel> {
  const started = performance.now();
  const k = options.components ?? 256;
  const center = options.center ?? true;
  const whiten = options.whiten ?? false;
  const seed = options.seed ?? 0;
  const maxSamples = options.maxSamples ?? 5000;
  const budget = options.memoryBudget ?? DEFAULT_MEMORY_BUDGET;
  const tempDir = options.tempDir ?? tmpdir();
  const solverChoice = options.eigensolver ?? 'auto';
  const maxIterations = options.maxIterations ?? 100;
  checkInteger('sample.rows', sample.rows, 1);
  checkInteger('sample.columns', sample.columns, 1);
  checkInteger('components', k, 1, MAX_COMPONENTS);
  checkInteger('maxSamples', maxSamples, 2);
  checkInteger('seed', seed, -(2 ** 31), 2 ** 32 - 1);
  checkInteger('memoryBudget', budget, 16 << 20);
  checkInteger('maxIterations', maxIterations, 1);
  if (!['auto', 'dense', 'subspace'].includes(solverChoice)) throw new RangeError(`eigensolver must be 'auto', 'dense' or 'subspace'; got ${JSON.stringify(solverChoice)}`);
  const n = Math.min(sample.rows, maxSamples);
  const d = sample.columns;
  if (n < 2) throw new RangeError(`PCA needs at least 2 rows; the sample has ${sample.rows}`);
  if (k > Math.min(n, d)) {
    throw new RangeError(`components must be at most min(samples, width) = min(${n}, ${d}) = ${Math.min(n, d)}; got ${k}`);
  }
  const report = options.onProgress ?? (() => undefined);
  const signal = options.signal;
  signal?.throwIfAborted();

  const rowIndex = selectSampleRows(sample.rows, maxSamples, seed);
  const kernels = new MatrixKernels(options.threads === undefined ? {} : { threads: options.threads });
  let source: ColumnSource | undefined;
  try {
    source = openColumnSource(sample, rowIndex, {
      memoryBytes: Math.floor(budget / 4),
      tempDir,
      signal,
      onGather: (done, total) => report({ phase: 'gather', done, total }),
    });
    const context: FitContext = { source, n, d, k, center, budget, kernels, report, signal, seed, solverChoice, maxIterations, tempDir };
    const fitted = n <= d ? await fitGram(context) : await fitCovariance(context);
    const totalVariance = fitted.totalSumOfSquares / (n - 1);
    const explainedVariance = Array.from(fitted.values, (v) => v / (n - 1));
    const fields: HeaderFields = {
      dimension: d,
      components: k,
      center,
      whiten,
      samples: n,
      sourceRows: sample.rows,
      seed,
      totalVariance,
      explainedVariance,
      explainedVarianceRatio: explainedVariance.map((v) => (totalVariance > 0 ? v / totalVariance : 0)),
      solver: { ...fitted.solver, seconds: (performance.now() - started) / 1000 },
    };
    const basis = fitted.basis;
    if (basis.kind === 'memory') {
      const hash = createHash('sha256');
      hash.update(new Uint8Array(fitted.mean.buffer, fitted.mean.byteOffset, fitted.mean.byteLength));
      hash.update(new Uint8Array(basis.data.buffer, basis.data.byteOffset, basis.data.byteLength));
      const header = completeHeader(fields, hash.digest('hex'));
      return new PcaModel(header, fitted.mean, { kind: 'memory', data: basis.data }, fitted.meanProjection, options.threads);
    }
    let header;
    try {
      header = basis.writer.finish(fields);
    } catch (error) {
      rmSync(basis.writer.path, { force: true });
      throw error;
    }
    const fd = openSync(basis.writer.path, 'r');
    return new PcaModel(header, fitted.mean, { kind: 'file', file: { fd, path: basis.writer.path, offset: header.basis.offset, temporary: true } }, fitted.meanProjection, options.threads);
  } finally {
    source?.close();
    await kernels.dispose();
  }
}

interface FitContext {
  readonly source: ColumnSource;
  readonly n: number;
  readonly d: number;
  readonly k: number;
  readonly center: boolean;
  readonly budget: number;
  readonly kernels: MatrixKernels;
  readonly report: (progress: PcaProgress) => void;
  readonly signal: AbortSignal | undefined;
  readonly seed: number;
  readonly solverChoice: 'auto' | 'dense' | 'subspace';
  readonly maxIterations: number;
  readonly tempDir: string;
}

interface Fitted {
  /** Eigenvalues of the Gram/covariance matrix for the k components (0 for null directions). */
  readonly values: Float64Array;
  readonly totalSumOfSquares: number;
  readonly mean: Float32Array;
  readonly meanProjection: Float64Array;
  readonly basis: { kind: 'memory'; data: Float32Array } | { kind: 'file'; writer: BasisFileWriter };
  readonly solver: Omit<PcaSolverInfo, 'seconds'>;
}

/** Column ranges of width at most `width`. */
function columnBlocks(d: number, width: number): Array<[number, number]> {
  const blocks: Array<[number, number]> = [];
  for (let start = 0; start < d; start += width) blocks.push([start, Math.min(d, start + width)]);
  return blocks;
}

/**
 * Reads a column block, checks it is finite (naming the source row), and centres it with
 * its exact column means (every sampled row is in the block). Returns the column means
 * (float64) and the block's sum of squares after centring.
 */
function readCentredBlock(context: FitContext, start: number, end: number, out: Float32Array): { means: Float64Array; sumOfSquares: number } {
  const { source, n, center } = context;
  const w = end - start;
  source.readBlock(start, end, out);
  const sums = new Float64Array(w);
  for (let r = 0; r < n; r += 1) {
    const base = r * w;
    for (let c = 0; c < w; c += 1) sums[c] = (sums[c] as number) + (out[base + c] as number);
  }
  for (let c = 0; c < w; c += 1) {
    if (!Number.isFinite(sums[c] as number)) {
      const bad = findNonFinite(out, n, w);
      if (bad) throw new NonFiniteValueError(source.rowIndex[bad.row] as number, start + bad.column, bad.value, 'PCA sample');
    }
  }
  const means = new Float64Array(w);
  if (center) for (let c = 0; c < w; c += 1) means[c] = (sums[c] as number) / n;
  let sumOfSquares = 0;
  for (let r = 0; r < n; r += 1) {
    const base = r * w;
    for (let c = 0; c < w; c += 1) {
      const x = (out[base + c] as number) - (means[c] as number);
      out[base + c] = x;
      sumOfSquares += x * x;
    }
  }
  return { means, sumOfSquares };
}

/** Eigenpairs of the symmetric m x m matrix s64 (float64, full), by the dense or the subspace solver. */
async function topEigenpairs(context: FitContext, s64: Float64Array, m: number): Promise<EigenResult & { solver: 'dense' | 'subspace' }> {
  const { k, kernels, report, signal, seed, maxIterations } = context;
  const oversample = oversampleFor(k);
  const dense = context.solverChoice === 'dense' || (context.solverChoice === 'auto' && (m <= DENSE_LIMIT || k + oversample >= m / 2));
  if (dense) {
    report({ phase: 'eigen', done: 0, total: 1 });
    const { values, vectors } = symmetricEigen(s64, m);
    const top = new Float32Array(m * k);
    for (let j = 0; j < k; j += 1) for (let r = 0; r < m; r += 1) top[r * k + j] = vectors[j * m + r] as number;
    report({ phase: 'eigen', done: 1, total: 1 });
    return { values: values.slice(0, k), vectors: top, iterations: 1, products: 0, converged: k, solver: 'dense' };
  }
  report({ phase: 'eigen', done: 0, total: maxIterations });
  const s32 = Float32Array.from(s64);
  const result = await subspaceEigen(s32, m, k, {
    oversample,
    maxIterations,
    tolerance: 1e-3,
    seed: seed ^ 0x5ca1ab1e,
    kernels,
    signal,
    onIteration: (iteration) => report({ phase: 'eigen', done: iteration, total: maxIterations }),
  });
  report({ phase: 'eigen', done: result.iterations, total: result.iterations });
  return { ...result, solver: 'subspace' };
}

/** Index of the entry largest in absolute value of column j of row-major a (rows x width); the first on ties, as numpy's argmax. */
function argmaxAbs(a: Float32Array | Float64Array, rows: number, width: number, j: number): number {
  let best = -1;
  let at = 0;
  for (let r = 0; r < rows; r += 1) {
    const v = Math.abs(a[r * width + j] as number);
    if (v > best) {
      best = v;
      at = r;
    }
  }
  return at;
}

/** Eigenvalues below this (relative to the float32 rounding of the matrix) are null directions. */
function nullThreshold(s64: Float64Array): number {
  let frobenius = 0;
  for (let i = 0; i < s64.length; i += 1) frobenius += (s64[i] as number) ** 2;
  return 16 * 2 ** -24 * Math.sqrt(frobenius);
}

function createBasisWriter(context: FitContext): BasisFileWriter {
  const path = join(context.tempDir, `.strata-pca-${process.pid}-${randomBytes(6).toString('hex')}.pca`);
  return new BasisFileWriter(path, context.d, context.k);
}

async function fitGram(context: FitContext): Promise<Fitted> {
  const { n, d, k, kernels, report, signal, budget } = context;
  const gram = new Float64Array(n * n);
  // The basis stays in memory when it takes at most a quarter of the budget (else it is
  // written to a file as it is computed). Column blocks get what remains after: the float64
  // Gram matrix (8 n^2 bytes); the larger of onnxruntime's Gram panels with their copies
  // (8 n^2) and the solver's float32 matrix and blocks (4 n^2 + 64 n l); the basis; a sample
  // gathered in memory; the second pass's output and its copy (partBytes each; its input
  // fits in the freed first-pass buffer).
  const basisBytes = d * k * 4;
  const inMemory = basisBytes <= budget / 4;
  const partBytes = Math.min(PART_BYTES, Math.floor(budget / 16));
  const solverBytes = Math.max(8 * n * n, 4 * n * n + 64 * n * Math.min(n, k + oversampleFor(k)));
  const available = budget - 8 * n * n - solverBytes - (inMemory ? basisBytes : 0) - context.source.residentBytes - 2 * partBytes;
  checkRoom(available, 4 * n, 'the Gram matrix', budget, n);
  const width = Math.max(1, Math.min(d, Math.floor(available / (4 * n))));
  const blocks = columnBlocks(d, width);
  let buffer: Float32Array | undefined = new Float32Array(n * Math.min(width, d));
  const mean64 = new Float64Array(d);
  let totalSumOfSquares = 0;
  report({ phase: 'gram', done: 0, total: blocks.length });
  for (const [index, [start, end]] of blocks.entries()) {
    signal?.throwIfAborted();
    const block = (buffer as Float32Array).subarray(0, n * (end - start));
    const { means, sumOfSquares } = readCentredBlock(context, start, end, block);
    mean64.set(means, start);
    totalSumOfSquares += sumOfSquares;
    await kernels.accumulateGram(block, n, end - start, gram);
    report({ phase: 'gram', done: index + 1, total: blocks.length });
  }
  for (let r = 0; r < n; r += 1) for (let c = 0; c < r; c += 1) gram[r * n + c] = gram[c * n + r] as number;
  // Keep the sample only if it is one block whose components fit one product (see the second pass).
  const cached = blocks.length === 1 && d * k * 4 <= partBytes ? buffer : undefined;
  buffer = undefined;

  const eigen = await topEigenpairs(context, gram, n);
  const threshold = nullThreshold(gram);
  // Scaled, sign-fixed eigenvectors: component i = Xc^T u_i s_i / sqrt(theta_i).
  const values = new Float64Array(k);
  const scaled = new Float32Array(n * k);
  for (let j = 0; j < k; j += 1) {
    const theta = eigen.values[j] as number;
    if (!(theta > threshold)) continue; // null direction: zero component, zero variance
    values[j] = theta;
    const sign = (eigen.vectors[argmaxAbs(eigen.vectors, n, k, j) * k + j] as number) < 0 ? -1 : 1;
    const factor = sign / Math.sqrt(theta);
    for (let r = 0; r < n; r += 1) scaled[r * k + j] = (eigen.vectors[r * k + j] as number) * factor;
  }

  const mean = Float32Array.from(mean64);
  const data = inMemory ? new Float32Array(d * k) : undefined;
  const writer = inMemory ? undefined : createBasisWriter(context);
  try {
    writer?.write(mean);
    const meanProjection = new Float64Array(k);
    const squares = new Float64Array(k);
    // Second pass: the sample again, in blocks narrow enough that each product's output
    // (w x k) stays under PART_BYTES, read straight into place (no copies). A sample that
    // fitted in one block is still centred in memory from the first pass and is used whole
    // when its output is small enough.
    const secondWidth = Math.max(1, Math.min(width, Math.floor(partBytes / (4 * Math.max(n, k)))));
    const second = cached ? blocks : columnBlocks(d, secondWidth);
    const secondBuffer = cached ?? new Float32Array(n * Math.min(secondWidth, d));
    report({ phase: 'basis', done: 0, total: second.length });
    for (const [index, [start, end]] of second.entries()) {
      signal?.throwIfAborted();
      const w = end - start;
      const block = secondBuffer.subarray(0, n * w);
      if (!cached) readCentredBlock(context, start, end, block);
      const part = await kernels.matmulTransposeA(block, n, w, scaled, k);
      for (let i = 0; i < w; i += 1) for (let j = 0; j < k; j += 1) squares[j] = (squares[j] as number) + (part[i * k + j] as number) ** 2;
      if (data) data.set(part, start * k);
      else writer?.write(part);
      addMeanProjection(mean, part, start, end, k, meanProjection);
      report({ phase: 'basis', done: index + 1, total: second.length });
    }
    let normError = 0;
    for (let j = 0; j < k; j += 1) if ((values[j] as number) > 0) normError = Math.max(normError, Math.abs(1 - Math.sqrt(squares[j] as number)));
    return {
      values,
      totalSumOfSquares,
      mean,
      meanProjection,
      basis: data ? { kind: 'memory', data } : { kind: 'file', writer: writer as BasisFileWriter },
      solver: { method: 'gram', eigensolver: eigen.solver, iterations: eigen.iterations, products: eigen.products, converged: eigen.converged, normError },
    };
  } catch (error) {
    if (writer) {
      writer.close();
      rmSync(writer.path, { force: true });
    }
    throw error;
  }
}

async function fitCovariance(context: FitContext): Promise<Fitted> {
  const { n, d, k, kernels, report, signal, budget } = context;
  const covariance = new Float64Array(d * d);
  // Two column blocks are in memory at a time (pairs of blocks of the covariance), after the
  // fixed costs: the float64 covariance, its float32 copy and products (16 D^2 bytes), the
  // basis (D < n, so it is small), a sample gathered in memory.
  const available = budget - 16 * d * d - d * k * 4 - context.source.residentBytes;
  checkRoom(available, 8 * n, `the ${d} x ${d} covariance`, budget, n);
  const width = Math.max(1, Math.min(d, Math.floor(available / (8 * n))));
  const blocks = columnBlocks(d, width);
  const first = new Float32Array(n * Math.min(width, d));
  const second = blocks.length > 1 ? new Float32Array(n * Math.min(width, d)) : first;
  const mean64 = new Float64Array(d);
  let totalSumOfSquares = 0;
  const pairs = (blocks.length * (blocks.length + 1)) / 2;
  let done = 0;
  report({ phase: 'gram', done: 0, total: pairs });
  for (const [i, [a0, a1]] of blocks.entries()) {
    const wa = a1 - a0;
    const left = first.subarray(0, n * wa);
    const { means, sumOfSquares } = readCentredBlock(context, a0, a1, left);
    mean64.set(means, a0);
    totalSumOfSquares += sumOfSquares;
    for (const [b0, b1] of blocks.slice(i)) {
      signal?.throwIfAborted();
      const wb = b1 - b0;
      let right = left;
      if (b0 !== a0) {
        right = second.subarray(0, n * wb);
        readCentredBlock(context, b0, b1, right);
      }
      const part = await kernels.matmulTransposeA(left, n, wa, right, wb);
      for (let r = 0; r < wa; r += 1) {
        for (let c = 0; c < wb; c += 1) {
          const value = part[r * wb + c] as number;
          covariance[(a0 + r) * d + b0 + c] = value;
          covariance[(b0 + c) * d + a0 + r] = value;
        }
      }
      report({ phase: 'gram', done: ++done, total: pairs });
    }
  }
  const eigen = await topEigenpairs(context, covariance, d);
  const threshold = nullThreshold(covariance);

  // Signs from the sample's scores Xc v_i, as sklearn's svd_flip on U.
  const scores = new Float32Array(n * k);
  report({ phase: 'basis', done: 0, total: blocks.length });
  for (const [index, [start, end]] of blocks.entries()) {
    const w = end - start;
    const block = first.subarray(0, n * w);
    if (blocks.length > 1) readCentredBlock(context, start, end, block);
    const part = await kernels.matmul(block, n, w, eigen.vectors.subarray(start * k, end * k), k);
    for (let i = 0; i < part.length; i += 1) scores[i] = (scores[i] as number) + (part[i] as number);
    report({ phase: 'basis', done: index + 1, total: blocks.length });
  }
  const values = new Float64Array(k);
  const data = new Float32Array(d * k);
  for (let j = 0; j < k; j += 1) {
    const theta = eigen.values[j] as number;
    if (!(theta > threshold)) continue;
    values[j] = theta;
    const sign = (scores[argmaxAbs(scores, n, k, j) * k + j] as number) < 0 ? -1 : 1;
    for (let f = 0; f < d; f += 1) data[f * k + j] = (eigen.vectors[f * k + j] as number) * sign;
  }
  const mean = Float32Array.from(mean64);
  const meanProjection = new Float64Array(k);
  addMeanProjection(mean, data, 0, d, k, meanProjection);
  return {
    values,
    totalSumOfSquares,
    mean,
    meanProjection,
    basis: { kind: 'memory', data },
    solver: { method: 'covariance', eigensolver: eigen.solver, iterations: eigen.iterations, products: eigen.products, converged: eigen.converged, normError: 0 },
  };
}
