#!/usr/bin/env node
// Layer x layer comparison speed: Strata's 18 x 18 CKA, RSA and kNN-overlap matrices vs
// numpy/scipy/sklearn doing the same on the same synthetic 256-d PCA-like features, in the
// same run, printed as ratios with the largest difference between the two matrices.
// RSA uses the same seeded 2,000-image sample on both sides; kNN queries every image
// (k = 10, cosine) up to 5,000. `mantel` correlates an external RDM over those 2,000 images
// with all 18 layers and runs 1,000 label permutations (numpy replays the same permutations).
// CKA and kNN run on each of --kernels (float64: JavaScript, one thread; onnxruntime: float32
// products on every core, float64 sums; see packages/core/src/compare/kernel.ts).
//
//   node bench/compare/run.mjs [--sizes 1000,5000] [--metrics cka,rsa,knn,mantel] [--dimension 256] [--kernels float64,onnxruntime]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  compareLayers,
  correlateRdmWithLayers,
  DEFAULT_MAX_QUERIES,
  permutationSeed,
  randomPermutation,
  rdmUpperTriangle,
  rsaRows,
  sampleIndices,
} from '@strata/core/compare';
import { createRandom } from '@strata/core';
import { encodeNpy } from '@strata/core/npy';
import { syntheticLayers, writeLayers } from './synthetic.mjs';

const python = process.env.STRATA_REFERENCE_PYTHON ?? '/usr/bin/python3';
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '1000,5000' },
    metrics: { type: 'string', default: 'cka,rsa,knn,mantel' },
    dimension: { type: 'string', default: '256' },
    layers: { type: 'string', default: '18' },
    kernels: { type: 'string', default: 'float64,onnxruntime' },
  },
});
const kernels = values.kernels.split(',');
const metrics = values.metrics.split(',');
const dimension = Number(values.dimension);
const layerCount = Number(values.layers);
const K = 10;

console.log(`${layerCount} layers x ${dimension}-d synthetic PCA-like features, ${cpus().length} cores, load ${loadavg().map((v) => v.toFixed(1)).join(' ')} (numpy: its BLAS threads)`);
console.log('metric  images  kernel        strata s  numpy s  strata/numpy  max |difference|');
for (const images of values.sizes.split(',').map(Number)) {
  const dir = mkdtempSync(join(tmpdir(), 'strata-bench-compare-'));
  const layers = syntheticLayers({ images, dimension, layers: layerCount, seed: 1 });
  writeLayers(dir, layers);
  const seed = 0;
  const rows = rsaRows(images, { seed });
  const queries = sampleIndices(images, DEFAULT_MAX_QUERIES, createRandom(seed));
  // External "brain" RDM over the RSA images: the middle layer's RDM plus noise, in float32 like a saved file.
  const m = rows.length;
  const middle = await rdmUpperTriangle(layers[Math.floor(layerCount / 2)].features, { rows });
  const noise = createRandom(2);
  const external = new Float32Array(m * m);
  for (let i = 0, p = 0; i < m; i++) {
    for (let j = i + 1; j < m; j++, p++) external[i * m + j] = external[j * m + i] = middle[p] + 0.5 * noise.next();
  }
  writeFileSync(join(dir, 'external.npy'), encodeNpy(external, [m, m]));
  const permutationRandom = createRandom(permutationSeed(seed));
  const perms = metrics.includes('mantel') ? Array.from({ length: 1000 }, () => Array.from(randomPermutation(m, permutationRandom))) : [];
  writeFileSync(
    join(dir, 'params.json'),
    JSON.stringify({ layers: layers.map((l) => l.name), metrics, rsa_rows: Array.from(rows), queries: Array.from(queries), k: K, distance: 'cosine', perms }),
  );
  const reference = JSON.parse(execFileSync(python, [join(import.meta.dirname, 'reference.py'), dir], { encoding: 'utf8', maxBuffer: 1 << 28 }));
  const ids = Array.from({ length: images }, (_, i) => String(i));
  const rdm = { ids: Array.from(rows, (r) => String(r)), values: Float64Array.from(external), size: m, label: 'external' };
  const run = async (metric, input, kernel) => {
    if (metric !== 'mantel') return (await compareLayers(input, { metric, k: K, seed, kernel })).values;
    const result = await correlateRdmWithLayers(rdm, input, ids, { seed, maxImages: m });
    return [...result.layers.map((l) => l.rho), ...result.layers.map((l) => l.p)];
  };
  for (const metric of metrics) {
    for (const kernel of metric === 'cka' || metric === 'knn' ? kernels : ['float64']) {
      await run(metric === 'mantel' ? 'rsa' : metric, layers.slice(0, 2), kernel); // warm-up (JIT, sessions), not timed
      const started = performance.now();
      const values = await run(metric, layers, kernel);
      const seconds = (performance.now() - started) / 1000;
      const expected = reference[metric].matrix.flat();
      const difference = Math.max(...expected.map((v, i) => Math.abs(v - values[i])));
      console.log(
        `${metric.padEnd(6)}  ${String(images).padStart(6)}  ${kernel.padEnd(12)}  ${seconds.toFixed(2).padStart(8)}  ${reference[metric].seconds.toFixed(2).padStart(7)}  ` +
          `${(seconds / reference[metric].seconds).toFixed(2).padStart(11)}x  ${difference.toExponential(1)}`,
      );
    }
  }
  rmSync(dir, { recursive: true, force: true });
}
