/**
 * t-SNE engine against scikit-learn 1.2 (Debian's /usr/bin/python3): the perplexity search and
 * joint probabilities to 1e-6, trustworthiness to 1e-9, map quality on digits and on clustered
 * synthetic data within 0.005 trustworthiness; plus the approximations against the exact
 * gradient, determinism across thread counts (on the compiled worker code), and cancellation.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRandom } from '../src/random.js';
import {
  binarySearchPerplexity,
  ComplexFft,
  createExecutor,
  GradientEvaluator,
  jointProbabilities,
  nearestNeighbors,
  neighborCount,
  pcaInit,
  trustworthiness,
  tsne,
} from '../src/tsne/index.js';
import type { SparseAffinities, TsneMethod } from '../src/tsne/index.js';
import { attractiveForces, attractiveForcesFast, releaseAttraction } from '../src/tsne/gradient-attractive.js';
import { barnesHutRepulsion } from '../src/tsne/gradient-bh.js';
import { allowWasm } from '../src/tsne/wasm/instance.js';
import { QuadTree } from '../src/tsne/quadtree.js';
import { exactKnnRows } from '../src/tsne/knn-exact.js';
import { productKnn } from '../src/tsne/knn-products.js';
import { PYTHON, runPython } from './python.js';

let dir = '';
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-tsne-'));
  try {
    runPython('import sklearn, numpy');
  } catch {
    throw new Error(
      `scikit-learn is missing from ${PYTHON}: the t-SNE tests compare against it (apt-get install python3-sklearn)`,
    );
  }
});
afterAll(() => {
  if (dir !== '') rmSync(dir, { recursive: true, force: true });
});

function writeF32(name: string, data: Float32Array): string {
  const path = join(dir, name);
  writeFileSync(path, Buffer.from(data.buffer, data.byteOffset, data.byteLength));
  return path;
}

function readF32(path: string): Float32Array {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

/** Gaussian clusters: `clusters` centres N(0, spread^2), points N(centre, 1). */
function clustered(n: number, dim: number, clusters: number, spread: number, seed: number): Float32Array {
  const random = createRandom(seed);
  const centres = new Float64Array(clusters * dim);
  for (let e = 0; e < centres.length; e++) centres[e] = spread * random.normal();
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) {
    const c = i % clusters;
    for (let d = 0; d < dim; d++) x[i * dim + d] = (centres[c * dim + d] as number) + random.normal();
  }
  return x;
}

async function affinities(x: Float32Array, n: number, dim: number, perplexity: number): Promise<SparseAffinities> {
  const k = neighborCount(n, perplexity);
  const graph = await nearestNeighbors(createExecutor(1), x, n, dim, k, 'exact', createRandom(0), undefined);
  return jointProbabilities(graph.indices, binarySearchPerplexity(graph.sqDistances, n, k, perplexity), n, k);
}

function dense(p: SparseAffinities): Float64Array {
  const out = new Float64Array(p.n * p.n);
  for (let i = 0; i < p.n; i++) {
    for (let e = p.rowPtr[i] as number; e < (p.rowPtr[i + 1] as number); e++) {
      out[i * p.n + (p.colIdx[e] as number)] = p.values[e] as number;
    }
  }
  return out;
}

describe('affinities match sklearn', () => {
  it('kNN, _binary_search_perplexity and _joint_probabilities_nn agree to 1e-6', async () => {
    const n = 120;
    const dim = 7;
    const perplexity = 8;
    const x = clustered(n, dim, 4, 3, 11);
    const path = writeF32('p-x.f32', x);
    const out = join(dir, 'p-ref');
    runPython(
      `
import sys, numpy as np
from sklearn.neighbors import NearestNeighbors
from sklearn.manifold import _utils
from sklearn.manifold._t_sne import _joint_probabilities_nn
n, dim, perplexity = ${n}, ${dim}, ${perplexity}
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(n, dim).astype(np.float64)
k = min(n - 1, int(3.0 * perplexity + 1))
D = NearestNeighbors(n_neighbors=k).fit(X).kneighbors_graph(mode='distance')
D.data **= 2
D.sort_indices()
# Neighbour sets and the conditional P on sklearn's own distances.
sq = D.data.reshape(n, -1).astype(np.float32)
sq.tofile(sys.argv[2] + '.sq')
_utils._binary_search_perplexity(sq, perplexity, 0).astype(np.float64).tofile(sys.argv[2] + '.cond')
D.indices.astype(np.int32).tofile(sys.argv[2] + '.idx')
_joint_probabilities_nn(D, perplexity, 0).toarray().astype(np.float64).tofile(sys.argv[2] + '.P')
`,
      [path, out],
    );
    const k = neighborCount(n, perplexity);
    const refSq = readF32(`${out}.sq`);
    const refCond = new Float64Array(readFileSync(`${out}.cond`).buffer.slice(0));
    const cond = binarySearchPerplexity(refSq, n, k, perplexity);
    let condErr = 0;
    for (let e = 0; e < n * k; e++) condErr = Math.max(condErr, Math.abs((cond[e] as number) - (refCond[e] as number)));
    expect(condErr).toBeLessThan(1e-12);

    const p = dense(await affinities(x, n, dim, perplexity));
    const refP = new Float64Array(readFileSync(`${out}.P`).buffer.slice(0));
    let pErr = 0;
    for (let e = 0; e < n * n; e++) pErr = Math.max(pErr, Math.abs((p[e] as number) - (refP[e] as number)));
    expect(pErr).toBeLessThan(1e-6);
    // sklearn's neighbour sets (sorted indices per row) are ours.
    const refIdx = new Int32Array(readFileSync(`${out}.idx`).buffer.slice(0));
    const graph = await nearestNeighbors(createExecutor(1), x, n, dim, k, 'exact', createRandom(0), undefined);
    for (let i = 0; i < n; i++) {
      const ours = Array.from(graph.indices.subarray(i * k, (i + 1) * k)).sort((a, b) => a - b);
      expect(ours).toEqual(Array.from(refIdx.subarray(i * k, (i + 1) * k)));
    }
  });
});

describe('trustworthiness', () => {
  it('equals sklearn.manifold.trustworthiness to 1e-9', () => {
    const n = 150;
    const x = clustered(n, 6, 5, 2, 3);
    const random = createRandom(5);
    const y = new Float32Array(2 * n);
    // A noisy projection: good but not perfect neighbourhoods.
    for (let i = 0; i < n; i++) {
      y[2 * i] = (x[i * 6] as number) + 0.7 * random.normal();
      y[2 * i + 1] = (x[i * 6 + 1] as number) + 0.7 * random.normal();
    }
    const ref = JSON.parse(
      runPython(
        `
import sys, json, numpy as np
from sklearn.manifold import trustworthiness
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(${n}, 6)
Y = np.fromfile(sys.argv[2], dtype=np.float32).reshape(${n}, 2)
print(json.dumps([trustworthiness(X, Y, n_neighbors=k) for k in (1, 5, 10, 30)]))
`,
        [writeF32('t-x.f32', x), writeF32('t-y.f32', y)],
      ),
    ) as number[];
    [1, 5, 10, 30].forEach((k, at) => {
      expect(Math.abs(trustworthiness(x, n, 6, y, k) - (ref[at] as number))).toBeLessThan(1e-9);
    });
    expect(() => trustworthiness(x, n, 6, y, 75)).toThrow(RangeError);
  });
});

describe('gradients', () => {
  const n = 400;
  const dim = 10;
  let p: SparseAffinities;
  let y: Float64Array;
  beforeAll(async () => {
    const x = clustered(n, dim, 6, 4, 21);
    p = await affinities(x, n, dim, 30);
    // A spread-out, clustered embedding like the ones met after early exaggeration.
    y = new Float64Array(new SharedArrayBuffer(16 * n));
    const random = createRandom(2);
    for (let i = 0; i < n; i++) {
      y[2 * i] = 6 * ((i % 6) - 2.5) + 1.5 * random.normal();
      y[2 * i + 1] = 4 * (i % 3) + 1.5 * random.normal();
    }
  });

  async function gradient(method: TsneMethod, exaggeration = 1): Promise<{ grad: Float64Array; kl: number }> {
    const grad = new Float64Array(2 * n);
    const evaluator = new GradientEvaluator(createExecutor(1), p, y, method, 0.5);
    const kl = await evaluator.evaluate(exaggeration, true, grad);
    return { grad, kl };
  }

  function relativeError(a: Float64Array, b: Float64Array): number {
    let num = 0;
    let den = 0;
    for (let e = 0; e < a.length; e++) {
      num += ((a[e] as number) - (b[e] as number)) ** 2;
      den += (b[e] as number) ** 2;
    }
    return Math.sqrt(num / den);
  }

  it('exact gradient is the derivative of the exact KL', async () => {
    const { grad, kl } = await gradient('exact');
    const h = 1e-5;
    for (const e of [0, 1, 17, 2 * n - 1]) {
      const saved = y[e] as number;
      y[e] = saved + h;
      const plus = (await gradient('exact')).kl;
      y[e] = saved - h;
      const minus = (await gradient('exact')).kl;
      y[e] = saved;
      expect(Math.abs((plus - minus) / (2 * h) - (grad[e] as number))).toBeLessThan(1e-6 + 1e-4 * Math.abs(grad[e] as number));
    }
    expect(kl).toBeGreaterThan(0);
  });

  it('Barnes-Hut and FFT stay close to the exact gradient and KL', async () => {
    for (const exaggeration of [1, 12]) {
      const exact = await gradient('exact', exaggeration);
      const bh = await gradient('bh', exaggeration);
      const fft = await gradient('fft', exaggeration);
      // Measured: BH 0.007, FFT 0.022 (boxes of 0.85 units here; finer grids converge as h^3).
      expect(relativeError(bh.grad, exact.grad)).toBeLessThan(0.03);
      expect(relativeError(fft.grad, exact.grad)).toBeLessThan(0.04);
      expect(Math.abs(bh.kl - exact.kl)).toBeLessThan(0.01 * exaggeration);
      expect(Math.abs(fft.kl - exact.kl)).toBeLessThan(0.01 * exaggeration);
    }
  });
});

describe('building blocks', () => {
  it('FFT equals the DFT and inverts', () => {
    for (const size of [2, 4, 8, 32, 128]) {
      const fft = new ComplexFft(size);
      const re = new Float64Array(size);
      const im = new Float64Array(size);
      const random = createRandom(size);
      for (let t = 0; t < size; t++) {
        re[t] = random.normal();
        im[t] = random.normal();
      }
      const re0 = re.slice();
      const im0 = im.slice();
      fft.forward(re, im);
      for (const k of [0, 1, size - 1]) {
        let sr = 0;
        let si = 0;
        for (let t = 0; t < size; t++) {
          const angle = (-2 * Math.PI * ((k * t) % size)) / size;
          sr += (re0[t] as number) * Math.cos(angle) - (im0[t] as number) * Math.sin(angle);
          si += (re0[t] as number) * Math.sin(angle) + (im0[t] as number) * Math.cos(angle);
        }
        expect(Math.abs(sr - (re[k] as number))).toBeLessThan(1e-10);
        expect(Math.abs(si - (im[k] as number))).toBeLessThan(1e-10);
      }
      fft.inverse(re, im);
      for (let t = 0; t < size; t++) expect(Math.abs((re[t] as number) / size - (re0[t] as number))).toBeLessThan(1e-12);
    }
    expect(() => new ComplexFft(12)).toThrow(RangeError);
  });

  it('quadtree: a rebuild that re-sorts the last order gives the tree of a fresh build', () => {
    const n = 3000;
    const random = createRandom(5);
    const spread = Float64Array.from({ length: 2 * n }, () => 10 * random.normal());
    // Small moves (the insertion path), with a run of coincident points (equal codes).
    const moved = spread.map((v) => v + 0.05 * random.normal());
    for (let i = 1; i < 40; i++) [moved[2 * i], moved[2 * i + 1]] = [moved[0] as number, moved[1] as number];
    // Everything moves far (too many moves: the radix sort again).
    const shuffled = Float64Array.from({ length: 2 * n }, () => 10 * random.normal());
    const fields = ['comX', 'comY', 'size', 'widthSq', 'skip', 'first'] as const;
    const incremental = new QuadTree(n);
    incremental.build(spread);
    for (const y of [moved, shuffled, moved]) {
      incremental.build(y);
      const fresh = new QuadTree(n);
      fresh.build(y);
      expect(incremental.nodeCount).toBe(fresh.nodeCount);
      expect(incremental.order).toEqual(fresh.order);
      for (const field of fields) expect(incremental[field].subarray(0, fresh.nodeCount), field).toEqual(fresh[field].subarray(0, fresh.nodeCount));
      expect(incremental.groupStart.subarray(0, fresh.groupCount + 1)).toEqual(fresh.groupStart.subarray(0, fresh.groupCount + 1));
    }
  });

  it('Barnes-Hut list sums: WebAssembly and JavaScript give the same bits, any chunking', () => {
    const n = 3000;
    const random = createRandom(3);
    const y = new Float64Array(2 * n);
    for (let e = 0; e < 2 * n; e++) y[e] = 20 * random.normal();
    // A leaf of 100 coincident points (a group larger than GROUP_SIZE) and a pair.
    for (let i = 0; i < 100; i++) [y[2 * i], y[2 * i + 1]] = [1.5, -2.5];
    [y[2 * 200], y[2 * 200 + 1]] = [y[2 * 201] as number, y[2 * 201 + 1] as number];
    const tree = new QuadTree(n);
    tree.build(y);
    const run = (wasm: boolean, chunk: number): { f: Float64Array; q: number } => {
      allowWasm(wasm);
      const f = new Float64Array(2 * n);
      let q = 0;
      for (let from = 0; from < n; from += chunk) q += barnesHutRepulsion(y, tree, 0.5, from, Math.min(n, from + chunk), f);
      return { f, q };
    };
    try {
      const reference = run(false, n);
      for (const [wasm, chunk] of [[true, n], [true, 256], [false, 37]] as const) {
        const other = run(wasm, chunk);
        expect(Array.from(other.f)).toEqual(Array.from(reference.f));
        // Chunk sums add in another order: equal up to rounding.
        expect(Math.abs(other.q - reference.q) / reference.q).toBeLessThan(1e-12);
      }
    } finally {
      allowWasm(true);
    }
  });

  it('attractive forces: WebAssembly and JavaScript give the same bits', async () => {
    const n = 2000;
    const k = 20;
    const data = new Float32Array(n * 5);
    const random = createRandom(4);
    for (let e = 0; e < data.length; e++) data[e] = random.normal();
    const graph = await nearestNeighbors(createExecutor(1), data, n, 5, k, 'exact', random, undefined);
    const p = jointProbabilities(graph.indices, binarySearchPerplexity(graph.sqDistances, n, k, 6), n, k);
    const y = new Float64Array(2 * n);
    for (let e = 0; e < 2 * n; e++) y[e] = 5 * random.normal();
    const partials = new Float64Array(2);
    const reference = new Float64Array(2 * n);
    attractiveForces(y, p.rowPtr, p.colIdx, p.values, 12, null, 0, n, reference, false, partials, 0);
    try {
      for (const wasm of [true, false]) {
        allowWasm(wasm);
        releaseAttraction();
        const f = new Float64Array(2 * n);
        for (let from = 0; from < n; from += 256) {
          attractiveForcesFast(y, p.rowPtr, p.colIdx, p.values, 12, from, Math.min(n, from + 256), f, 1, 0, partials, 0);
        }
        expect(Array.from(f)).toEqual(Array.from(reference));
      }
    } finally {
      allowWasm(true);
      releaseAttraction();
    }
  });

  it('approximate neighbours recall >= 0.97 of the exact ones', async () => {
    const n = 3000;
    const dim = 16;
    const k = 31;
    const x = clustered(n, dim, 12, 3, 8);
    const executor = createExecutor(1);
    const exact = await nearestNeighbors(executor, x, n, dim, k, 'exact', createRandom(0), undefined);
    const approx = await nearestNeighbors(executor, x, n, dim, k, 'approx', createRandom(0), undefined);
    let hits = 0;
    for (let i = 0; i < n; i++) {
      const truth = new Set(exact.indices.subarray(i * k, (i + 1) * k));
      for (let t = 0; t < k; t++) if (truth.has(approx.indices[i * k + t] as number)) hits++;
    }
    expect(hits / (n * k)).toBeGreaterThan(0.97);
  });

  it('exact neighbours from matrix products equal the brute-force lists bit for bit', async () => {
    const n = 1200;
    const dim = 24;
    const k = 31;
    const executor = createExecutor(1);
    const clusteredData = clustered(n, dim, 8, 4, 21);
    const offset = clusteredData.map((v) => v + 5e3);
    // 150 copies of one point: their lists are all ties at distance 0, which the bound cannot settle.
    const duplicates = clusteredData.slice();
    for (let i = 1; i < 150; i++) duplicates.copyWithin(i * dim, 0, dim);
    // Small integers: many equal distances at the k-th place.
    const grid = Float32Array.from(clusteredData, (v) => Math.round(v / 3));
    // A far outlier inflates the rounding bound of every row.
    const outlier = clusteredData.slice();
    outlier.fill(1e5, 0, dim);
    const scanned: Record<string, number> = {};
    for (const [name, x] of Object.entries({ clusteredData, offset, duplicates, grid, outlier })) {
      const brute = { idx: new Int32Array(n * k), dist: new Float32Array(n * k) };
      exactKnnRows(x, n, dim, k, 0, n, brute.idx, brute.dist);
      const products = await productKnn(executor, x, n, dim, k, undefined);
      expect(products.indices, name).toEqual(brute.idx);
      expect(products.sqDistances, name).toEqual(brute.dist);
      scanned[name] = products.scannedRows;
    }
    // The candidates settle ordinary rows; only the hard ones fall back to the full search.
    expect(scanned.clusteredData).toBe(0);
    expect(scanned.offset).toBe(0);
    expect(scanned.duplicates).toBeGreaterThanOrEqual(150);
    expect(scanned.duplicates).toBeLessThan(n / 2);
    expect(scanned.outlier).toBeGreaterThan(0);
  });

  it('exact neighbours of 20,000 points come with a locality order: a permutation that keeps neighbours close', async () => {
    const n = 20_000;
    const dim = 6;
    const x = clustered(n, dim, 50, 6, 17);
    const graph = await nearestNeighbors(createExecutor(1), x, n, dim, 15, 'exact', createRandom(0), undefined);
    const order = graph.order as Int32Array;
    expect(order).toBeDefined();
    expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: n }, (_, i) => i));
    const distance = (a: number, b: number): number => {
      let s = 0;
      for (let d = 0; d < dim; d++) s += ((x[a * dim + d] as number) - (x[b * dim + d] as number)) ** 2;
      return s;
    };
    let consecutive = 0;
    let shuffled = 0;
    for (let at = 1; at < n; at++) {
      consecutive += distance(order[at - 1] as number, order[at] as number);
      shuffled += distance(at - 1, at);
    }
    // Input order cycles through the clusters; the leaf order keeps a cluster's points together.
    expect(consecutive).toBeLessThan(shuffled / 5);
  });

  it('PCA initialisation spans sklearn PCA components, std 1e-4', async () => {
    const n = 300;
    const dim = 12;
    const x = clustered(n, dim, 3, 5, 4);
    const y = await pcaInit(x, n, dim, createRandom(0), createExecutor(1));
    const ref = new Float32Array(
      JSON.parse(
        runPython(
          `
import sys, json, numpy as np
from sklearn.decomposition import PCA
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(${n}, ${dim})
print(json.dumps(PCA(n_components=2, svd_solver='full').fit_transform(X).ravel().tolist()))
`,
          [writeF32('pca-x.f32', x)],
        ),
      ) as number[],
    );
    for (let axis = 0; axis < 2; axis++) {
      let dot = 0;
      let na = 0;
      let nb = 0;
      for (let i = 0; i < n; i++) {
        dot += (y[2 * i + axis] as number) * (ref[2 * i + axis] as number);
        na += (y[2 * i + axis] as number) ** 2;
        nb += (ref[2 * i + axis] as number) ** 2;
      }
      expect(Math.abs(dot) / Math.sqrt(na * nb)).toBeGreaterThan(0.9999);
    }
    let mean = 0;
    for (let i = 0; i < n; i++) mean += (y[2 * i] as number) / n;
    let variance = 0;
    for (let i = 0; i < n; i++) variance += ((y[2 * i] as number) - mean) ** 2 / n;
    expect(Math.sqrt(variance)).toBeCloseTo(1e-4, 10);
  });
});

describe('tsne()', () => {
  it('is deterministic for a seed and validates its input', async () => {
    const n = 300;
    const x = clustered(n, 8, 4, 4, 1);
    const a = await tsne(x, n, 8, { iterations: 300, init: 'random', seed: 3 });
    const b = await tsne(x, n, 8, { iterations: 300, init: 'random', seed: 3 });
    const c = await tsne(x, n, 8, { iterations: 300, init: 'random', seed: 4 });
    expect(a.embedding).toEqual(b.embedding);
    expect(a.klDivergence).toBe(b.klDivergence);
    expect(c.embedding).not.toEqual(a.embedding);
    expect(a.method).toBe('exact');
    expect(a.iterations).toBe(300);
    await expect(tsne(x, n, 7)).rejects.toThrow(/expected n \* dim/);
    await expect(tsne(x, n, 8, { perplexity: 300 })).rejects.toThrow(RangeError);
    await expect(tsne(x, n, 8, { method: 'umap' as never })).rejects.toThrow(/method must be/);
  });

  it('stops on abort, before and during the optimisation', async () => {
    const n = 700;
    const x = clustered(n, 8, 4, 4, 2);
    const before = new AbortController();
    before.abort(new Error('cancelled early'));
    await expect(tsne(x, n, 8, { signal: before.signal })).rejects.toThrow('cancelled early');
    const during = new AbortController();
    let steps = 0;
    const run = tsne(x, n, 8, {
      signal: during.signal,
      onProgress: (progress) => {
        if (progress.phase === 'exaggeration' && ++steps === 20) during.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
    expect(steps).toBe(20);
  });

  it('counts duplicate points in Z with every method', async () => {
    const n = 800;
    const x = clustered(n, 4, 5, 3, 6);
    // Half the points are copies of one point: Barnes-Hut must not drop them from Z.
    for (let i = 0; i < 400; i++) x.copyWithin(i * 4, 0, 4);
    const kl: Record<string, number> = {};
    for (const method of ['exact', 'bh', 'fft'] as const) {
      const result = await tsne(x, n, 4, { method, iterations: 300 });
      expect(result.embedding.every(Number.isFinite)).toBe(true);
      kl[method] = result.klDivergence;
    }
    expect(Math.abs((kl.bh as number) - (kl.exact as number))).toBeLessThan(0.05);
    expect(Math.abs((kl.fft as number) - (kl.exact as number))).toBeLessThan(0.05);
  });

  it('reports KL every 50 steps like sklearn verbose output', async () => {
    const n = 200;
    const x = clustered(n, 5, 3, 4, 9);
    const reported: number[] = [];
    const result = await tsne(x, n, 5, {
      iterations: 400,
      onProgress: (progress) => {
        if (progress.kl !== undefined) reported.push(progress.iteration);
      },
    });
    expect(reported).toEqual([49, 99, 149, 199, 249, 299, 349, 399]);
    expect(Number.isFinite(result.klDivergence)).toBe(true);
  });
});

/** Compiles src/tsne to plain JS so that the worker threads (worker.js) really run. */
let compiledEntry: string | undefined;

/** The compiled engine's index.js (compiled once per run of this file). */
function compileTsne(): string {
  compiledEntry ??= compileTsneSources();
  return compiledEntry;
}

function compileTsneSources(): string {
  const require = createRequire(import.meta.url);
  const tsc = require.resolve('typescript/bin/tsc');
  const src = join(dirname(fileURLToPath(import.meta.url)), '..', 'src');
  const out = join(dir, 'build');
  const config = join(dir, 'tsconfig.json');
  writeFileSync(
    config,
    JSON.stringify({
      extends: join(src, '..', 'tsconfig.json'),
      compilerOptions: {
        rootDir: src,
        outDir: out,
        declaration: false,
        sourceMap: false,
        noEmit: false,
        // The config lives in a temporary folder: point at the package's @types explicitly.
        typeRoots: [dirname(dirname(require.resolve('@types/node/package.json')))],
      },
      include: [],
      files: [join(src, 'tsne', 'index.ts'), join(src, 'tsne', 'worker.ts')],
    }),
  );
  try {
    execFileSync(process.execPath, [tsc, '-p', config], { encoding: 'utf8' });
  } catch (error) {
    throw new Error(`compiling src/tsne failed:\n${(error as { stdout?: string }).stdout ?? String(error)}`);
  }
  writeFileSync(join(out, 'package.json'), '{"type":"module"}');
  return join(out, 'tsne', 'index.js');
}

describe('worker threads (compiled)', () => {
  it('run prepared tasks again with new shared values, like the calling thread alone; a failing chunk rejects the run and stops the pool', async () => {
    const compiled = (await import(pathToFileURL(compileTsne()).href)) as typeof import('../src/tsne/index.js');
    const n = 5000;
    const random = createRandom(3);
    const forces = Float64Array.from({ length: 2 * n }, () => random.normal());
    const descentOn = async (threads: number): Promise<{ y: Float64Array; norms: number[] }> => {
      const executor = compiled.createExecutor(threads);
      const shared = (length: number): Float64Array => new Float64Array(new SharedArrayBuffer(8 * length));
      const task = {
        kind: 'descent' as const,
        n,
        y: shared(2 * n),
        posF: shared(2 * n),
        negF: shared(2 * n),
        gains: shared(2 * n).fill(1),
        update: shared(2 * n),
        params: shared(3),
        normParts: shared(Math.ceil(n / 1024)),
      };
      task.posF.set(forces);
      task.negF.set(forces.map((f) => f / 3));
      const prepared = executor.prepare(task);
      const norms: number[] = [];
      try {
        for (let step = 0; step < 5; step++) {
          task.params.set([1 + step, step % 2 === 0 ? 0.5 : 0.8, 10 * (step + 1)]);
          if (step === 3) task.posF.reverse();
          await prepared.run();
          norms.push(task.normParts.reduce((a, b) => a + b, 0));
        }
      } finally {
        prepared.release();
        await executor.close();
      }
      return { y: task.y.slice(), norms };
    };
    const alone = await descentOn(1);
    const pooled = await descentOn(3);
    expect(pooled.y).toEqual(alone.y);
    expect(pooled.norms).toEqual(alone.norms);
    expect(new Set(pooled.norms).size).toBe(5);

    // A gradient task without a repulsion method throws in its chunks, on whichever thread.
    const executor = compiled.createExecutor(2);
    try {
      const broken = {
        kind: 'gradient' as const,
        parts: 'all' as const,
        n,
        y: new Float64Array(new SharedArrayBuffer(16 * n)),
        rowPtr: new Int32Array(new SharedArrayBuffer(4 * (n + 1))),
        colIdx: new Int32Array(new SharedArrayBuffer(4)),
        values: new Float64Array(new SharedArrayBuffer(8)),
        stepParams: new Float64Array(new SharedArrayBuffer(8 * 5)),
        pKey: -1,
        posF: new Float64Array(new SharedArrayBuffer(16 * n)),
        negF: new Float64Array(new SharedArrayBuffer(16 * n)),
        partials: new Float64Array(new SharedArrayBuffer(8 * 4 * Math.ceil(n / 256))),
        repulsion: { method: 'none' as const },
      };
      await expect(executor.run(broken)).rejects.toThrow(/needs a repulsion method/);
      await expect(executor.run(broken)).rejects.toThrow(/needs a repulsion method|failed/);
    } finally {
      await executor.close();
    }
  });

  it('give bit-identical maps for 1, 2 and 3 threads, and cancel', async () => {
    const compiled = (await import(pathToFileURL(compileTsne()).href)) as typeof import('../src/tsne/index.js');
    expect(compiled.workerUrl()).toBeDefined();
    const n = 1600;
    const dim = 12;
    const x = clustered(n, dim, 6, 4, 12);
    for (const method of ['bh', 'fft'] as const) {
      const options = { method, iterations: 120, neighbors: 'approx' as const };
      const one = await compiled.tsne(x, n, dim, { ...options, threads: 1 });
      const two = await compiled.tsne(x, n, dim, { ...options, threads: 2 });
      const three = await compiled.tsne(x, n, dim, { ...options, threads: 3 });
      expect(two.embedding).toEqual(one.embedding);
      expect(three.embedding).toEqual(one.embedding);
      expect(two.steps[method]).toBe(120);
    }
    const controller = new AbortController();
    const run = compiled.tsne(x, n, dim, {
      threads: 2,
      signal: controller.signal,
      onProgress: (progress) => {
        if (progress.phase === 'exaggeration' && progress.iteration === 5) controller.abort();
      },
    });
    await expect(run).rejects.toThrow(/abort/i);
  });
});

/** Runs sklearn's TSNE (1.2 defaults, PCA init, seed 0) on a float32 file; returns its trustworthiness@10. */
function sklearnTrustworthiness(path: string, n: number, dim: number): { trust: number; kl: number } {
  return JSON.parse(
    runPython(
      `
import sys, json, numpy as np
from sklearn.manifold import TSNE, trustworthiness
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(${n}, ${dim})
tsne = TSNE(n_components=2, perplexity=30.0, n_iter=1000, init='pca', learning_rate='auto', random_state=0)
Y = tsne.fit_transform(X)
print(json.dumps({'trust': trustworthiness(X, Y, n_neighbors=10), 'kl': float(tsne.kl_divergence_)}))
`,
      [path],
    ),
  ) as { trust: number; kl: number };
}

describe('map quality against sklearn TSNE', () => {
  it('digits (1797 x 64): trustworthiness@10 within 0.005 of sklearn or better', async () => {
    const path = join(dir, 'digits.f32');
    runPython(
      `
import sys, numpy as np
from sklearn.datasets import load_digits
load_digits().data.astype(np.float32).tofile(sys.argv[1])
`,
      [path],
    );
    const x = readF32(path);
    const n = 1797;
    const ref = sklearnTrustworthiness(path, n, 64);
    const result = await tsne(x, n, 64);
    const ours = trustworthiness(x, n, 64, result.embedding, 10);
    expect(ours, `ours ${ours} vs sklearn ${ref.trust}`).toBeGreaterThan(ref.trust - 0.005);
    expect(result.klDivergence).toBeLessThan(ref.kl + 0.05);
  });

  it('clustered synthetic data (1500 x 30): within 0.005 of sklearn or better', async () => {
    const n = 1500;
    const dim = 30;
    const x = clustered(n, dim, 10, 2.5, 77);
    const ref = sklearnTrustworthiness(writeF32('synthetic.f32', x), n, dim);
    const result = await tsne(x, n, dim);
    const ours = trustworthiness(x, n, dim, result.embedding, 10);
    expect(ours, `ours ${ours} vs sklearn ${ref.trust}`).toBeGreaterThan(ref.trust - 0.005);
  });
});
