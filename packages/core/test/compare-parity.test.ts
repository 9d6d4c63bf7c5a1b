/**
 * Layer comparison against the reference implementations on shared inputs: numpy linear CKA
 * (Kornblith et al.'s feature-space and Gram code, biased and debiased), np.corrcoef RDMs,
 * scipy.stats.spearmanr, exact numpy kNN, scipy.spatial.procrustes, and a numpy replay of the
 * Mantel permutations. Agreement is required to 1e-6 (it is ~1e-12 in practice: both sides
 * are float64 on the same float32 inputs).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import {
  ckaMatrix,
  compareLayers,
  compareRdms,
  correlateRdmWithLayers,
  linearCka,
  nearestNeighbors,
  neighborOverlap,
  permutationCounts,
  procrustes,
  randomPermutation,
  rdmUpperTriangle,
  rsa,
  rsaRows,
  upperTriangle,
  centeredRanks,
  type FeatureMatrix,
} from '../src/compare/index.js';
import { encodeNpy } from '../src/npy.js';
import { createRandom } from '../src/random.js';
import { runPython } from './python.js';

const TOLERANCE = 1e-6;
const dir = mkdtempSync(join(tmpdir(), 'strata-compare-parity-'));
const N = 120;

/** Layers that share a seeded latent structure (so CKA/RSA/kNN are neither 0 nor 1), float32 like extracted features. */
function layer(seed: number, columns: number, latent: Float64Array, latentDim: number, noise: number): FeatureMatrix {
  const random = createRandom(seed);
  const mixing = Float64Array.from({ length: latentDim * columns }, () => random.normal());
  const data = new Float32Array(N * columns);
  for (let r = 0; r < N; r++) {
    for (let c = 0; c < columns; c++) {
      let v = 0;
      for (let t = 0; t < latentDim; t++) v += (latent[r * latentDim + t] as number) * (mixing[t * columns + c] as number);
      data[r * columns + c] = Math.max(v + noise * random.normal(), -0.5) + 3; // ReLU-like floor and an offset, as real features have
    }
  }
  return { data, rows: N, columns };
}

const latentRandom = createRandom(7);
const LATENT = 6;
const latent = Float64Array.from({ length: N * LATENT }, () => latentRandom.normal());
const A = layer(1, 40, latent, LATENT, 0.5);
const B = layer(2, 25, latent, LATENT, 1.5);
const C = layer(3, 300, latent, LATENT, 3); // wider than N: the Gram route
const save = (name: string, m: FeatureMatrix): void => writeFileSync(join(dir, `${name}.npy`), encodeNpy(m.data as Float32Array, [m.rows, m.columns]));

const REFERENCE = String.raw`
import json, sys, numpy as np, scipy.stats, scipy.spatial
d = sys.argv[1]
p = json.load(open(d + '/params.json'))
L = {k: np.load(d + '/' + k + '.npy').astype(np.float64) for k in ['A', 'B', 'C']}

# Kornblith et al. 2019, "Similarity of Neural Network Representations Revisited" (colab code).
def gram_linear(x): return x.dot(x.T)
def center_gram(gram, unbiased=False):
    gram = gram.copy()
    if unbiased:
        n = gram.shape[0]
        np.fill_diagonal(gram, 0)
        means = np.sum(gram, 0, dtype=np.float64) / (n - 2)
        means -= np.sum(means) / (2 * (n - 1))
        gram -= means[:, None]; gram -= means[None, :]
        np.fill_diagonal(gram, 0)
    else:
        means = np.mean(gram, 0, dtype=np.float64)
        means -= np.mean(means) / 2
        gram -= means[:, None]; gram -= means[None, :]
    return gram
def cka(gx, gy, debiased=False):
    gx = center_gram(gx, debiased); gy = center_gram(gy, debiased)
    return gx.ravel().dot(gy.ravel()) / (np.linalg.norm(gx) * np.linalg.norm(gy))
def helper(xty, ssx, ssy, nx, ny, n):
    return xty - n / (n - 2.) * ssx.dot(ssy) + nx * ny / ((n - 1) * (n - 2))
def feature_space_linear_cka(x, y, debiased=False):
    x = x - np.mean(x, 0, keepdims=True); y = y - np.mean(y, 0, keepdims=True)
    dot = np.linalg.norm(x.T.dot(y)) ** 2
    nx = np.linalg.norm(x.T.dot(x)); ny = np.linalg.norm(y.T.dot(y))
    if debiased:
        n = x.shape[0]
        ssx = np.einsum('ij,ij->i', x, x); ssy = np.einsum('ij,ij->i', y, y)
        sx = np.sum(ssx); sy = np.sum(ssy)
        dot = helper(dot, ssx, ssy, sx, sy, n)
        nx = np.sqrt(helper(nx ** 2, ssx, ssx, sx, sx, n)); ny = np.sqrt(helper(ny ** 2, ssy, ssy, sy, sy, n))
    return dot / (nx * ny)

out = {}
names = ['A', 'B', 'C']
for deb in [False, True]:
    key = 'debiased' if deb else 'biased'
    out['cka_feature_' + key] = [[feature_space_linear_cka(L[a], L[b], deb) for b in names] for a in names]
    out['cka_gram_' + key] = [[cka(gram_linear(L[a]), gram_linear(L[b]), deb) for b in names] for a in names]

iu = np.triu_indices(L['A'].shape[0], 1)
rdm = {k: (1 - np.corrcoef(v))[iu] for k, v in L.items()}
out['rdm_A'] = rdm['A'].tolist()
out['rsa'] = [[scipy.stats.spearmanr(rdm[a], rdm[b]).correlation for b in names] for a in names]
rows = np.array(p['rsa_rows'])
su = np.triu_indices(len(rows), 1)
out['rsa_subset'] = scipy.stats.spearmanr((1 - np.corrcoef(L['A'][rows]))[su], (1 - np.corrcoef(L['B'][rows]))[su]).correlation
tied = [np.array(t) for t in p['tied']]
out['spearman_tied'] = scipy.stats.spearmanr(tied[0], tied[1]).correlation
out['rankdata_tied'] = (scipy.stats.rankdata(tied[0]) - (len(tied[0]) + 1) / 2).tolist()

def knn(x, k, metric):
    if metric == 'cosine':
        z = x / np.linalg.norm(x, axis=1, keepdims=True); dist = 1 - z @ z.T
    else:
        dist = ((x[:, None, :] - x[None, :, :]) ** 2).sum(-1)
    np.fill_diagonal(dist, np.inf)
    return np.argsort(dist, axis=1, kind='stable')[:, :k]
out['knn'] = {}
for metric in ['cosine', 'euclidean']:
    lists = {k: knn(v, 5, metric) for k, v in L.items()}
    out['knn'][metric] = {'A': lists['A'].tolist(), 'C': lists['C'].tolist(), 'overlap': [[float(np.mean([len(set(lists[a][i]) & set(lists[b][i])) / len(set(lists[a][i]) | set(lists[b][i])) for i in range(len(lists[a]))])) for b in names] for a in names]}

out['procrustes'] = {}
for key, (m1, m2) in p['maps'].items():
    s1, s2, disparity = scipy.spatial.procrustes(np.array(m1), np.array(m2))
    out['procrustes'][key] = {'first': s1.ravel().tolist(), 'second': s2.ravel().tolist(), 'disparity': disparity}

# Mantel: the same permutations of the external RDM's image labels, replayed.
ext = np.array(p['external'])
m = ext.shape[0]
eu = np.triu_indices(m, 1)
rows = np.array(p['external_rows'])
layer_rdm = (1 - np.corrcoef(L['B'][rows]))[eu]
obs = scipy.stats.spearmanr(layer_rdm, ext[eu]).correlation
count = 0
for perm in p['perms']:
    perm = np.array(perm)
    r = scipy.stats.spearmanr(layer_rdm, ext[np.ix_(perm, perm)][eu]).correlation
    count += r >= obs - 1e-12
out['mantel'] = {'rho': obs, 'count': int(count)}
print(json.dumps(out))
`;

interface Reference {
  cka_feature_biased: number[][];
  cka_feature_debiased: number[][];
  cka_gram_biased: number[][];
  cka_gram_debiased: number[][];
  rdm_A: number[];
  rsa: number[][];
  rsa_subset: number;
  spearman_tied: number;
  rankdata_tied: number[];
  knn: Record<'cosine' | 'euclidean', { A: number[][]; C: number[][]; overlap: number[][] }>;
  procrustes: Record<string, { first: number[]; second: number[]; disparity: number }>;
  mantel: { rho: number; count: number };
}

const maxDifference = (a: ArrayLike<number>, b: ArrayLike<number>): number => {
  expect(a.length).toBe(b.length);
  let worst = 0;
  for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs((a[i] as number) - (b[i] as number)));
  return worst;
};

const random = createRandom(11);
const rsaSubset = rsaRows(N, { maxImages: 50, seed: 3 });
const tied = [0, 1].map(() => Float64Array.from({ length: 400 }, () => Math.round(random.next() * 8) / 8));
const map = (rows: number, d: number): number[][] => Array.from({ length: rows }, () => Array.from({ length: d }, () => random.normal()));
const rotateMap = (points: number[][], angle: number, mirror: boolean): number[][] =>
  points.map(([x = 0, y = 0]) => {
    const xr = Math.cos(angle) * x - Math.sin(angle) * y;
    const yr = Math.sin(angle) * x + Math.cos(angle) * y;
    return [3 * (mirror ? -xr : xr) + 5 + 0.1 * random.normal(), 3 * yr - 2 + 0.1 * random.normal()];
  });
const base2 = map(60, 2);
const maps: Record<string, [number[][], number[][]]> = {
  rotated: [base2, rotateMap(base2, 1.1, false)],
  mirrored: [base2, rotateMap(base2, -2.3, true)],
  unrelated: [map(60, 2), map(60, 2)],
  threeD: [map(40, 3), map(40, 3)],
};
// External RDM over 30 images given in a shuffled order (as brain data would be), built from layer A plus noise.
const externalRows = randomPermutation(N, createRandom(5)).slice(0, 30);
const externalMatrix = await (async () => {
  const m = externalRows.length;
  const full = await rdmUpperTriangle(A, { rows: externalRows });
  const values = new Float64Array(m * m);
  let p = 0;
  for (let i = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++) {
      const v = (full[p++] as number) + 0.3 * random.next();
      values[i * m + j] = v;
      values[j * m + i] = v;
    }
  }
  return values;
})();
const permRandom = createRandom(99);
const perms = Array.from({ length: 203 }, () => Array.from(randomPermutation(30, permRandom))); // not a multiple of the batch of 8

let ref: Reference;
beforeAll(() => {
  save('A', A);
  save('B', B);
  save('C', C);
  const m = externalRows.length;
  writeFileSync(
    join(dir, 'params.json'),
    JSON.stringify({
      rsa_rows: Array.from(rsaSubset),
      tied: tied.map((t) => Array.from(t)),
      maps,
      external: Array.from({ length: m }, (_, i) => Array.from(externalMatrix.subarray(i * m, i * m + m))),
      external_rows: Array.from(externalRows),
      perms,
    }),
  );
  ref = JSON.parse(runPython(REFERENCE, [dir])) as Reference;
});

describe('linear CKA parity (numpy, Kornblith et al.)', () => {
  it('matches feature-space and Gram numpy CKA, biased and debiased, through both routes and both kernels', async () => {
    const layers = { A, B, C };
    const names = ['A', 'B', 'C'] as const;
    for (const debiased of [false, true]) {
      const expected = debiased ? ref.cka_feature_debiased : ref.cka_feature_biased;
      const viaGram = debiased ? ref.cka_gram_debiased : ref.cka_gram_biased;
      expect(maxDifference(expected.flat(), viaGram.flat())).toBeLessThan(1e-9); // the two numpy references agree
      for (const method of ['features', 'gram', 'auto'] as const) {
        for (let a = 0; a < 3; a++) {
          for (let b = 0; b < 3; b++) {
            const value = await linearCka(layers[names[a] as 'A'], layers[names[b] as 'A'], { debiased, method });
            expect(Math.abs(value - (expected[a]?.[b] as number)), `${method} ${debiased} ${a}${b}`).toBeLessThan(TOLERANCE);
          }
        }
      }
      // onnxruntime's float32 products (forced: these inputs are below the 'auto' threshold), both routes.
      for (const method of ['features', 'gram'] as const) {
        const onnx = await ckaMatrix(
          names.map((name) => ({ name, features: layers[name] })),
          { debiased, method, kernel: 'onnxruntime' },
        );
        expect(maxDifference(onnx, expected.flat()), `onnxruntime ${method} ${debiased}`).toBeLessThan(TOLERANCE);
      }
      const matrix = await compareLayers(
        names.map((name) => ({ name, features: layers[name] })),
        { metric: debiased ? 'cka-debiased' : 'cka' },
      );
      expect(maxDifference(matrix.values, expected.flat())).toBeLessThan(TOLERANCE);
    }
  });

  it('is ~1e-12 from numpy on the float64 kernel, not just within 1e-6', async () => {
    expect(Math.abs((await linearCka(A, C)) - (ref.cka_feature_biased[0]?.[2] as number))).toBeLessThan(1e-12);
    expect(Math.abs((await linearCka(A, C, { debiased: true })) - (ref.cka_feature_debiased[0]?.[2] as number))).toBeLessThan(1e-12);
  });
});

describe('RSA parity (np.corrcoef, scipy.stats.spearmanr)', () => {
  it('builds the same RDM as 1 - np.corrcoef', async () => {
    expect(maxDifference(await rdmUpperTriangle(A), ref.rdm_A)).toBeLessThan(1e-12);
  });

  it('matches spearmanr between RDMs of every pair of layers, and on a given subset of images', async () => {
    const matrix = await compareLayers(
      [
        { name: 'A', features: A },
        { name: 'B', features: B },
        { name: 'C', features: C },
      ],
      { metric: 'rsa', maxImages: N },
    );
    expect(matrix.exact).toBe(true);
    expect(maxDifference(matrix.values, ref.rsa.flat())).toBeLessThan(TOLERANCE);
    const subset = await rsa(A, B, { rows: rsaSubset });
    expect(subset.pairs).toBe((50 * 49) / 2);
    expect(Math.abs(subset.value - ref.rsa_subset)).toBeLessThan(TOLERANCE);
  });

  it('averages tied ranks exactly as scipy does', () => {
    expect(maxDifference(centeredRanks(tied[0] as Float64Array), ref.rankdata_tied)).toBe(0);
    expect(Math.abs(compareRdms(tied[0] as Float64Array, tied[1] as Float64Array) - ref.spearman_tied)).toBeLessThan(1e-12);
  });
});

describe('kNN overlap parity (exact numpy neighbours)', () => {
  it('finds the same neighbours and the same mean Jaccard overlap, cosine and euclidean, on both kernels', async () => {
    for (const distance of ['cosine', 'euclidean'] as const) {
      const lists = await nearestNeighbors(A, { k: 5, distance });
      expect(Array.from(lists)).toEqual(ref.knn[distance].A.flat());
      // The query path (explicit queries) and a memory budget that forces column blocks and
      // several query blocks give the same lists as the all-pairs path; so does onnxruntime.
      expect(Array.from(await nearestNeighbors(A, { k: 5, distance, queries: Int32Array.from({ length: N }, (_, i) => i) }))).toEqual(Array.from(lists));
      expect(Array.from(await nearestNeighbors(A, { k: 5, distance, memoryBytes: 40_000 }))).toEqual(Array.from(lists));
      expect(Array.from(await nearestNeighbors(A, { k: 5, distance, kernel: 'onnxruntime' }))).toEqual(Array.from(lists));
      expect(Array.from(await nearestNeighbors(C, { k: 5, distance, kernel: 'onnxruntime' }))).toEqual(ref.knn[distance].C.flat());
      const matrix = await compareLayers(
        [
          { name: 'A', features: A },
          { name: 'B', features: B },
          { name: 'C', features: C },
        ],
        { metric: 'knn', k: 5, distance },
      );
      expect(maxDifference(matrix.values, ref.knn[distance].overlap.flat())).toBeLessThan(1e-12);
    }
    const self = await nearestNeighbors(A, { k: 5 });
    expect(neighborOverlap(self, self, 5).mean).toBe(1);
  });
});

describe('Procrustes parity (scipy.spatial.procrustes)', () => {
  it('gives scipy standardized maps and disparity, and maps the second onto the first', () => {
    for (const [key, [m1, m2]] of Object.entries(maps)) {
      const d = (m1[0] as number[]).length;
      const first = { data: Float64Array.from(m1.flat()), rows: m1.length, columns: d };
      const second = { data: Float64Array.from(m2.flat()), rows: m2.length, columns: d };
      const result = procrustes(first, second);
      const expected = ref.procrustes[key] as { first: number[]; second: number[]; disparity: number };
      expect(maxDifference(result.standardizedFirst, expected.first), key).toBeLessThan(TOLERANCE);
      expect(maxDifference(result.standardizedSecond, expected.second), key).toBeLessThan(TOLERANCE);
      expect(Math.abs(result.disparity - expected.disparity), key).toBeLessThan(TOLERANCE);
      // aligned = standardized second in the first map's units and place; and the stated transform reproduces it.
      for (let r = 0; r < first.rows; r++) {
        for (let j = 0; j < d; j++) {
          let v = 0;
          for (let i = 0; i < d; i++) v += ((second.data[r * d + i] as number) - (result.meanSecond[i] as number)) * (result.rotation[i * d + j] as number);
          expect(Math.abs(v * result.scale + (result.meanFirst[j] as number) - (result.aligned[r * d + j] as number))).toBeLessThan(1e-9);
        }
      }
    }
    expect(procrustes(toMatrix(maps.mirrored?.[0]), toMatrix(maps.mirrored?.[1])).reflection).toBe(true);
    expect(procrustes(toMatrix(maps.rotated?.[0]), toMatrix(maps.rotated?.[1])).reflection).toBe(false);
    expect(procrustes(toMatrix(maps.rotated?.[0]), toMatrix(maps.rotated?.[1])).disparity).toBeLessThan(0.01);
  });

  it('without reflections, a mirrored map fits worse and stays unmirrored', () => {
    const [m1, m2] = maps.mirrored as [number[][], number[][]];
    const free = procrustes(toMatrix(m1), toMatrix(m2));
    const proper = procrustes(toMatrix(m1), toMatrix(m2), { allowReflection: false });
    expect(proper.reflection).toBe(false);
    expect(proper.disparity).toBeGreaterThan(free.disparity + 0.5);
  });
});

function toMatrix(points: number[][] | undefined): FeatureMatrix {
  const list = points ?? [];
  return { data: Float64Array.from(list.flat()), rows: list.length, columns: list[0]?.length ?? 0 };
}

describe('Mantel permutation test parity (numpy replay of the same permutations)', () => {
  it('gives the same rho and the same count of permutations at least as extreme', async () => {
    const m = externalRows.length;
    const layerRanks = centeredRanks(await rdmUpperTriangle(B, { rows: externalRows }));
    const observed = correlateCenteredRanksOf(layerRanks, centeredRanks(upperTriangle(externalMatrix, m)));
    expect(Math.abs(observed - ref.mantel.rho)).toBeLessThan(1e-12);
    const counts = permutationCounts(externalMatrix, m, [layerRanks], [observed], perms.map((p) => Int32Array.from(p)), 'greater');
    expect(counts[0]).toBe(ref.mantel.count);
  });

  it('correlateRdmWithLayers reports the same rho per layer through image ids', async () => {
    const ids = Array.from({ length: N }, (_, i) => `img${i}`);
    const rdm = { ids: Array.from(externalRows, (r) => `img${r}`), values: externalMatrix, size: externalRows.length, label: 'brain' };
    const result = await correlateRdmWithLayers(rdm, [{ name: 'B', features: B }], ids, { permutations: 99, seed: 1 });
    expect(Math.abs((result.layers[0]?.rho as number) - ref.mantel.rho)).toBeLessThan(1e-12);
    expect(result.pairs).toBe((30 * 29) / 2);
    expect(result.layers[0]?.p).toBeGreaterThan(0);
  });
});

function correlateCenteredRanksOf(a: Float64Array, b: Float64Array): number {
  let ab = 0;
  let aa = 0;
  let bb = 0;
  for (let i = 0; i < a.length; i++) {
    ab += (a[i] as number) * (b[i] as number);
    aa += (a[i] as number) ** 2;
    bb += (b[i] as number) ** 2;
  }
  return ab / Math.sqrt(aa * bb);
}
