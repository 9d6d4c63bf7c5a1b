/**
 * PCA without a reference implementation: the eigensolvers against each other and against
 * hand-built matrices, the basis file round trip, projection paths, input errors.
 * (Parity with sklearn is in pca-sklearn.test.ts.)
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { encodeNpy, NpyMatrixReader } from '../src/npy.js';
import {
  fitPca,
  MAX_COMPONENTS,
  NonFiniteValueError,
  PCA_FILE_VERSION,
  PcaModel,
  selectSampleRows,
  symmetricEigen,
  type PcaProgress,
  type PcaSample,
} from '../src/pca/index.js';
import { MatrixKernels } from '../src/pca/kernels.js';
import { gramSchmidt, orthonormalize, subspaceEigen } from '../src/pca/subspace-eigen.js';
import { createRandom } from '../src/random.js';

const dir = mkdtempSync(join(tmpdir(), 'strata-pca-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Seeded low-rank-plus-noise rows with a power-law spectrum and a positive offset (like post-ReLU activations). */
function lowRankMatrix(rows: number, columns: number, rank: number, seed: number, noise = 0.05): Float32Array {
  const random = createRandom(seed);
  const basis = new Float64Array(rank * columns);
  for (let i = 0; i < basis.length; i += 1) basis[i] = random.normal() / Math.sqrt(columns);
  const offset = Float64Array.from({ length: columns }, () => random.next());
  const out = new Float32Array(rows * columns);
  const weights = new Float64Array(rank);
  for (let r = 0; r < rows; r += 1) {
    for (let j = 0; j < rank; j += 1) weights[j] = random.normal() / (j + 1);
    for (let c = 0; c < columns; c += 1) {
      let value = (offset[c] as number) + (noise * random.normal()) / Math.sqrt(columns);
      for (let j = 0; j < rank; j += 1) value += (weights[j] as number) * (basis[j * columns + c] as number);
      out[r * columns + c] = value;
    }
  }
  return out;
}

function memorySample(data: Float32Array, rows: number, columns: number): PcaSample {
  return { rows, columns, readRows: (start, end) => data.slice(start * columns, end * columns) };
}

function writeMatrix(name: string, data: Float32Array, rows: number, columns: number): string {
  const path = join(dir, name);
  writeFileSync(path, encodeNpy(data, [rows, columns]));
  return path;
}

function maxAbsDifference(a: Float32Array, b: Float32Array): number {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i += 1) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
}

function maxAbs(a: Float32Array): number {
  let worst = 0;
  for (const v of a) worst = Math.max(worst, Math.abs(v));
  return worst;
}

describe('symmetricEigen', () => {
  test('a hand-built 3 x 3 matrix', () => {
    // [[2, 1, 0], [1, 2, 0], [0, 0, 5]]: eigenvalues 5, 3, 1.
    const { values, vectors } = symmetricEigen(Float64Array.of(2, 1, 0, 1, 2, 0, 0, 0, 5), 3);
    expect(Array.from(values)).toEqual([expect.closeTo(5, 12), expect.closeTo(3, 12), expect.closeTo(1, 12)]);
    expect(Math.abs(vectors[2] as number)).toBeCloseTo(1, 12);
    expect(Math.abs((vectors[3] as number) * (vectors[4] as number))).toBeCloseTo(0.5, 12);
  });

  test('A v = lambda v and V^T V = I on a random 120 x 120 matrix', () => {
    const n = 120;
    const random = createRandom(1);
    const a = new Float64Array(n * n);
    for (let i = 0; i < n; i += 1) {
      for (let j = 0; j <= i; j += 1) {
        const v = random.normal();
        a[i * n + j] = v;
        a[j * n + i] = v;
      }
    }
    const { values, vectors } = symmetricEigen(a, n);
    for (let j = 0; j < n; j += 1) {
      if (j > 0) expect(values[j] as number).toBeLessThanOrEqual(values[j - 1] as number);
      for (let r = 0; r < n; r += 1) {
        let av = 0;
        for (let c = 0; c < n; c += 1) av += (a[r * n + c] as number) * (vectors[j * n + c] as number);
        expect(Math.abs(av - (values[j] as number) * (vectors[j * n + r] as number))).toBeLessThan(1e-10);
      }
      for (let i = 0; i <= j; i += 1) {
        let dot = 0;
        for (let r = 0; r < n; r += 1) dot += (vectors[i * n + r] as number) * (vectors[j * n + r] as number);
        expect(Math.abs(dot - (i === j ? 1 : 0))).toBeLessThan(1e-12);
      }
    }
  });
});

describe('subspace solver', () => {
  test('orthonormalize (CholeskyQR2) and the Gram-Schmidt fallback give orthonormal columns', async () => {
    const m = 500;
    const l = 40;
    const random = createRandom(2);
    const y = Float32Array.from({ length: m * l }, () => random.normal());
    const kernels = new MatrixKernels({ threads: 1 });
    try {
      for (const q of [await orthonormalize(y, m, l, kernels), gramSchmidt(y, m, l)]) {
        const gram = await kernels.matmulTransposeA(q, m, l, q, l);
        for (let i = 0; i < l; i += 1) for (let j = 0; j < l; j += 1) expect(Math.abs((gram[i * l + j] as number) - (i === j ? 1 : 0))).toBeLessThan(1e-5);
      }
    } finally {
      await kernels.dispose();
    }
  });

  test('agrees with the dense solver on a 600 x 600 matrix with a power-law spectrum', async () => {
    const m = 600;
    const k = 50;
    // S = V diag(1/i) V^T with V a random orthonormal basis.
    const random = createRandom(3);
    const v = gramSchmidt(Float32Array.from({ length: m * m }, () => random.normal()), m, m);
    const s = new Float64Array(m * m);
    for (let p = 0; p < m; p += 1) {
      const lambda = 1 / (p + 1);
      for (let i = 0; i < m; i += 1) {
        const vi = (v[i * m + p] as number) * lambda;
        for (let j = 0; j < m; j += 1) s[i * m + j] = (s[i * m + j] as number) + vi * (v[j * m + p] as number);
      }
    }
    const dense = symmetricEigen(s, m);
    const kernels = new MatrixKernels();
    try {
      const result = await subspaceEigen(Float32Array.from(s), m, k, { oversample: 32, maxIterations: 50, tolerance: 1e-3, seed: 0, kernels });
      expect(result.converged).toBe(k);
      for (let j = 0; j < k; j += 1) {
        expect(Math.abs((result.values[j] as number) / (dense.values[j] as number) - 1)).toBeLessThan(1e-5);
        let dot = 0;
        for (let r = 0; r < m; r += 1) dot += (result.vectors[r * k + j] as number) * (dense.vectors[j * m + r] as number);
        expect(Math.abs(dot)).toBeGreaterThan(0.9999);
      }
    } finally {
      await kernels.dispose();
    }
  });
});

describe('selectSampleRows', () => {
  test('all rows when there are few enough; else a seeded, sorted subset without repeats', () => {
    expect(Array.from(selectSampleRows(5, 10, 0))).toEqual([0, 1, 2, 3, 4]);
    const rows = selectSampleRows(73_000, 5000, 42);
    expect(rows.length).toBe(5000);
    expect(new Set(rows).size).toBe(5000);
    for (let i = 1; i < rows.length; i += 1) expect(rows[i] as number).toBeGreaterThan(rows[i - 1] as number);
    expect(Array.from(selectSampleRows(73_000, 5000, 42))).toEqual(Array.from(rows));
    expect(Array.from(selectSampleRows(73_000, 5000, 43))).not.toEqual(Array.from(rows));
  });
});

describe('fitPca', () => {
  const rows = 240;
  const columns = 900;
  const data = lowRankMatrix(rows, columns, 30, 5);

  test('points on a line: one component explains everything, projections are the positions', async () => {
    // x_r = t_r * direction + offset.
    const direction = Float32Array.of(0.6, 0, 0.8);
    const t = [-2, -1, 0, 1, 5];
    const line = new Float32Array(t.length * 3);
    t.forEach((value, r) => direction.forEach((d, c) => (line[r * 3 + c] = value * d + 1)));
    const model = await fitPca(memorySample(line, t.length, 3), { components: 1 });
    expect(model.explainedVarianceRatio[0]).toBeCloseTo(1, 6);
    expect(model.explainedVariance[0]).toBeCloseTo(7.3, 5); // var(t, ddof=1)
    const projected = model.project(line, t.length);
    // sklearn's sign convention: the largest |score| (t = 5, centred 4.4) is positive.
    t.forEach((value, r) => expect(projected[r] as number).toBeCloseTo(value - 0.6, 5));
    await model.dispose();
  });

  test('dense and subspace solvers, and the covariance method, give the same basis', async () => {
    const sample = memorySample(data, rows, columns);
    const dense = await fitPca(sample, { components: 20, eigensolver: 'dense' });
    const subspace = await fitPca(sample, { components: 20, eigensolver: 'subspace' });
    // Transposed problem shape: 240 samples of 200 features uses X^T X.
    const narrow = new Float32Array(rows * 200);
    for (let r = 0; r < rows; r += 1) narrow.set(data.subarray(r * columns, r * columns + 200), r * 200);
    const covariance = await fitPca(memorySample(narrow, rows, 200), { components: 20 });
    const gramNarrow = await fitPca(memorySample(narrow, rows, 200), { components: 20, maxSamples: 150 });
    expect(covariance.toJSON().solver.method).toBe('covariance');
    expect(gramNarrow.toJSON().solver.method).toBe('gram');
    expect(dense.toJSON().solver.eigensolver).toBe('dense');
    expect(subspace.toJSON().solver.eigensolver).toBe('subspace');
    const a = dense.project(data, rows);
    const b = subspace.project(data, rows);
    expect(maxAbsDifference(a, b)).toBeLessThan(1e-4 * maxAbs(a));
    for (let j = 0; j < 20; j += 1) expect(Math.abs((subspace.explainedVariance[j] as number) / (dense.explainedVariance[j] as number) - 1)).toBeLessThan(1e-6);
    for (const model of [dense, subspace, covariance, gramNarrow]) await model.dispose();
  });

  test('project (JavaScript), projectAsync (onnxruntime), whitening', async () => {
    const model = await fitPca(memorySample(data, rows, columns), { components: 12, whiten: true });
    const sync = model.project(data, rows);
    const async = await model.projectAsync(data, rows);
    expect(maxAbsDifference(sync, async)).toBeLessThan(1e-4 * maxAbs(sync));
    // Whitened scores of the fitted sample have unit variance (ddof = 1) and zero mean.
    for (let j = 0; j < 12; j += 1) {
      let sum = 0;
      let squares = 0;
      for (let r = 0; r < rows; r += 1) {
        sum += sync[r * 12 + j] as number;
        squares += (sync[r * 12 + j] as number) ** 2;
      }
      expect(sum / rows).toBeCloseTo(0, 4);
      expect(squares / (rows - 1)).toBeCloseTo(1, 4);
    }
    expect(model.project(new Float32Array(0), 0).length).toBe(0);
    await model.dispose();
  });

  test('save and load: in memory and streamed from the file give the same projections; sha256 and header survive', async () => {
    const model = await fitPca(memorySample(data, rows, columns), { components: 16 });
    const path = join(dir, 'basis.pca');
    await model.save(path);
    const loaded = await PcaModel.load(path);
    const streamed = await PcaModel.load(path, { memoryBudget: 1024 });
    expect(loaded.inMemory).toBe(true);
    expect(streamed.inMemory).toBe(false);
    for (const other of [loaded, streamed]) {
      expect(other.sha256).toBe(model.sha256);
      expect(other.toJSON()).toEqual(model.toJSON());
      expect(Array.from(other.explainedVarianceRatio)).toEqual(Array.from(model.explainedVarianceRatio));
    }
    const expected = model.project(data, rows);
    expect(maxAbsDifference(loaded.project(data, rows), expected)).toBe(0);
    expect(maxAbsDifference(streamed.project(data, rows), expected)).toBeLessThan(1e-6 * maxAbs(expected));
    expect(maxAbsDifference(await streamed.projectAsync(data, rows), expected)).toBeLessThan(1e-4 * maxAbs(expected));
    expect(maxAbsDifference(streamed.readBasis(10, 20), model.readBasis(10, 20))).toBe(0);
    // The header is readable JSON after the 12-byte prefix.
    const bytes = readFileSync(path);
    expect(bytes.subarray(0, 8).toString('latin1')).toBe('STRATPCA');
    expect(JSON.parse(bytes.subarray(12, 12 + bytes.readUInt32LE(8)).toString('utf8')).format).toBe('strata-pca');
    for (const m of [model, loaded, streamed]) await m.dispose();
  });

  test('a basis larger than a quarter of the memory budget goes to a temporary file, moved into place by save()', async () => {
    const work = mkdtempSync(join(dir, 'spill-'));
    const model = await fitPca(memorySample(data, rows, columns), { components: 16, memoryBudget: 16 << 20, tempDir: work });
    expect(model.inMemory).toBe(true); // 900 x 16 floats is small
    const big = lowRankMatrix(60, 150_000, 10, 9);
    const spilled = await fitPca(memorySample(big, 60, 150_000), { components: 20, memoryBudget: 16 << 20, tempDir: work });
    expect(spilled.inMemory).toBe(false);
    expect(readdirSync(work).filter((name) => name.endsWith('.pca'))).toHaveLength(1);
    const target = join(work, 'kept.pca');
    await spilled.save(target);
    expect(readdirSync(work).sort()).toEqual(['kept.pca']);
    const projected = spilled.project(big, 60);
    const reloaded = await PcaModel.load(target);
    expect(reloaded.sha256).toBe(spilled.sha256);
    expect(maxAbsDifference(reloaded.project(big, 60), projected)).toBeLessThan(1e-6 * maxAbs(projected));
    await spilled.dispose();
    expect(readdirSync(work)).toEqual(['kept.pca']);
    // An unsaved spilled basis is deleted by dispose().
    const discarded = await fitPca(memorySample(big, 60, 150_000), { components: 20, memoryBudget: 16 << 20, tempDir: work });
    await discarded.dispose();
    expect(readdirSync(work)).toEqual(['kept.pca']);
    for (const m of [model, reloaded]) await m.dispose();
  });

  test('sources: an NpyMatrixReader, a row-only source gathered in memory, and one spilled to a file give one basis', async () => {
    const path = writeMatrix('sources.npy', data, rows, columns);
    const reader = new NpyMatrixReader(path);
    const progress: PcaProgress[] = [];
    const fromFile = await fitPca(reader, { components: 10, maxSamples: 200, onProgress: (p) => progress.push(p) });
    const gathered = await fitPca(memorySample(data, rows, columns), { components: 10, maxSamples: 200 });
    const spilled = await fitPca(memorySample(data, rows, columns), { components: 10, maxSamples: 200, memoryBudget: 16 << 20, tempDir: dir });
    expect(gathered.sha256).toBe(fromFile.sha256);
    expect(spilled.sha256).toBe(fromFile.sha256);
    expect(new Set(progress.map((p) => p.phase))).toEqual(new Set(['gram', 'eigen', 'basis']));
    reader.close();
    for (const m of [fromFile, gathered, spilled]) await m.dispose();
  });

  test('the same seed gives the same basis (sha256); another seed subsamples other rows', async () => {
    const sample = memorySample(data, rows, columns);
    const a = await fitPca(sample, { components: 8, maxSamples: 100, seed: 1 });
    const b = await fitPca(sample, { components: 8, maxSamples: 100, seed: 1 });
    const c = await fitPca(sample, { components: 8, maxSamples: 100, seed: 2 });
    expect(a.sha256).toBe(b.sha256);
    expect(c.sha256).not.toBe(a.sha256);
    for (const m of [a, b, c]) await m.dispose();
  });

  test('center: false keeps a zero mean and decomposes X itself', async () => {
    const model = await fitPca(memorySample(data, rows, columns), { components: 5, center: false });
    expect(maxAbs(model.mean)).toBe(0);
    expect(model.toJSON().center).toBe(false);
    // Without centring, the first component points along the (large, positive) mean offset.
    expect(model.explainedVarianceRatio[0] as number).toBeGreaterThan(0.9);
    await model.dispose();
  });
});

describe('errors', () => {
  const data = lowRankMatrix(20, 50, 4, 11);
  const sample = memorySample(data, 20, 50);

  test('components outside 1..2000 or above min(samples, width)', async () => {
    await expect(fitPca(sample, { components: 0 })).rejects.toThrow(/components must be an integer in \[1, 2000\]; got 0/);
    await expect(fitPca(sample, { components: MAX_COMPONENTS + 1 })).rejects.toThrow(/got 2001/);
    await expect(fitPca(sample, { components: 21 })).rejects.toThrow(/at most min\(samples, width\) = min\(20, 50\) = 20; got 21/);
    await expect(fitPca(sample, { components: 11, maxSamples: 10 })).rejects.toThrow(/min\(10, 50\) = 10; got 11/);
  });

  test('NaN or Infinity in the sample names the source row and column', async () => {
    const bad = data.slice();
    bad[13 * 50 + 7] = Number.NaN;
    const error = await fitPca(memorySample(bad, 20, 50), { components: 3 }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(NonFiniteValueError);
    expect((error as NonFiniteValueError).row).toBe(13);
    expect((error as Error).message).toMatch(/row 13 has NaN at column 7/);
    const model = await fitPca(sample, { components: 3 });
    const rowsWithInf = data.slice(0, 150);
    rowsWithInf[2 * 50 + 49] = Number.POSITIVE_INFINITY;
    expect(() => model.project(rowsWithInf, 3)).toThrow(/project: row 2 has Infinity at column 49/);
    await expect(model.projectAsync(rowsWithInf, 3)).rejects.toThrow(/row 2 has Infinity/);
    expect(() => model.project(data, 3)).toThrow(/1000 values for 3 rows of 50 features; expected 150/);
    await model.dispose();
  });

  test('load rejects other files, other versions and corrupt data', async () => {
    const model = await fitPca(sample, { components: 3 });
    const path = join(dir, 'errors.pca');
    await model.save(path);
    await model.dispose();
    const good = readFileSync(path);

    writeFileSync(join(dir, 'not.pca'), Buffer.from('hello world, not a basis'));
    await expect(PcaModel.load(join(dir, 'not.pca'))).rejects.toThrow(/expected "STRATPCA"/);

    const header = good.subarray(12, 12 + good.readUInt32LE(8)).toString('utf8');
    const otherVersion = Buffer.from(good);
    otherVersion.write(header.replace(`"version":${PCA_FILE_VERSION}`, '"version":99'), 12, 'utf8');
    writeFileSync(join(dir, 'v99.pca'), otherVersion);
    await expect(PcaModel.load(join(dir, 'v99.pca'))).rejects.toThrow(/strata-pca version 99, this Strata reads version 1/);

    const corrupt = Buffer.from(good);
    corrupt[corrupt.length - 3] = (corrupt[corrupt.length - 3] as number) ^ 0xff;
    writeFileSync(join(dir, 'corrupt.pca'), corrupt);
    await expect(PcaModel.load(join(dir, 'corrupt.pca'))).rejects.toThrow(/sha256 .* the file is corrupt/);

    writeFileSync(join(dir, 'short.pca'), good.subarray(0, good.length - 4));
    await expect(PcaModel.load(join(dir, 'short.pca'))).rejects.toThrow(/truncated or appended/);
  });

  test('a memory budget too small for the Gram matrix says how much is needed', async () => {
    const square = memorySample(new Float32Array(1000 * 1000), 1000, 1000);
    await expect(fitPca(square, { components: 2, memoryBudget: 16 << 20 })).rejects.toThrow(
      /memoryBudget 16 MiB is too small for the Gram matrix of 1000 samples: \d+ MiB needed at least/,
    );
  });

  test('an aborted fit stops with the signal', async () => {
    const controller = new AbortController();
    controller.abort(new Error('stop now'));
    await expect(fitPca(sample, { components: 3, signal: controller.signal })).rejects.toThrow('stop now');
  });
});
