#!/usr/bin/env node
// How far the bounded-memory shortcuts are from the exact values, on a set small enough to
// compute exactly (default 5,000 images of the synthetic 18-layer PCA-like features):
// - RSA over a seeded sample of M images vs RSA over all images (exact Spearman over 12.5M pairs);
// - kNN overlap averaged over a seeded sample of M query images vs over all images (the
//   neighbours themselves are exact in both: they come from all images);
// - CKA: no shortcut, but two exact routes (feature-space cross-products, N x N Grams): their difference.
// Prints mean and largest |sampled - exact| over seeds, for layer pairs near and far apart.
//
//   node bench/compare/shortcut-error.mjs [--images 5000] [--seeds 10] [--samples 500,1000,2000]
import { parseArgs } from 'node:util';
import { createRandom } from '@strata/core';
import { compareRdms, linearCka, nearestNeighbors, neighborOverlap, rdmUpperTriangle, sampleIndices } from '@strata/core/compare';
import { syntheticLayers } from './synthetic.mjs';

const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '5000' },
    seeds: { type: 'string', default: '10' },
    samples: { type: 'string', default: '500,1000,2000' },
    pairs: { type: 'string', default: '1-2,1-6,1-18' },
  },
});
const images = Number(values.images);
const seeds = Number(values.seeds);
const samples = values.samples.split(',').map(Number);
const pairs = values.pairs.split(',').map((p) => p.split('-').map((x) => Number(x) - 1));
const layers = syntheticLayers({ images, layers: 18, seed: 1 });
const features = (l) => layers[l].features;
const stats = (errors) => `mean ${(errors.reduce((s, e) => s + e, 0) / errors.length).toFixed(4)}  max ${Math.max(...errors).toFixed(4)}`;

console.log(`${images} images, 18 synthetic 256-d layers; ${seeds} seeds per sample size`);
console.log('\nRSA: Spearman of RDM upper triangles, seeded image sample vs all images');
const rdmCache = new Map();
const exactRdm = async (l) => {
  if (!rdmCache.has(l)) rdmCache.set(l, await rdmUpperTriangle(features(l)));
  return rdmCache.get(l);
};
for (const [a, b] of pairs) {
  const exact = compareRdms(await exactRdm(a), await exactRdm(b));
  const line = [];
  for (const m of samples) {
    const errors = [];
    for (let seed = 0; seed < seeds; seed++) {
      const rows = sampleIndices(images, m, createRandom(seed));
      errors.push(Math.abs(compareRdms(await rdmUpperTriangle(features(a), { rows }), await rdmUpperTriangle(features(b), { rows })) - exact));
    }
    line.push(`M=${m}: ${stats(errors)}`);
  }
  console.log(`  layers ${a + 1}-${b + 1} exact ${exact.toFixed(4)} | ${line.join(' | ')}`);
}
rdmCache.clear();

console.log('\nkNN overlap (k = 10, cosine): mean Jaccard over a seeded query sample vs over all images');
const lists = new Map();
const neighbours = async (l) => {
  if (!lists.has(l)) lists.set(l, await nearestNeighbors(features(l), { k: 10 }));
  return lists.get(l);
};
for (const [a, b] of pairs) {
  const { mean: exact, perQuery } = neighborOverlap(await neighbours(a), await neighbours(b), 10);
  let variance = 0;
  for (const v of perQuery) variance += (v - exact) ** 2;
  const sd = Math.sqrt(variance / perQuery.length);
  const line = samples.map((m) => {
    const errors = [];
    for (let seed = 0; seed < seeds; seed++) {
      const rows = sampleIndices(images, m, createRandom(seed));
      let sum = 0;
      for (const r of rows) sum += perQuery[r];
      errors.push(Math.abs(sum / rows.length - exact));
    }
    return `M=${m}: ${stats(errors)}`;
  });
  console.log(`  layers ${a + 1}-${b + 1} exact ${exact.toFixed(4)} (per-image sd ${sd.toFixed(3)}) | ${line.join(' | ')}`);
}

console.log('\nCKA: feature-space cross-products vs N x N Gram matrices (both exact)');
const n = Math.min(images, 2000);
const head = (l) => ({ ...features(l), data: features(l).data.subarray(0, n * 256), rows: n });
for (const [a, b] of pairs) {
  for (const debiased of [false, true]) {
    const viaFeatures = await linearCka(head(a), head(b), { method: 'features', debiased, kernel: 'float64' });
    const viaGram = await linearCka(head(a), head(b), { method: 'gram', debiased, kernel: 'float64' });
    console.log(`  layers ${a + 1}-${b + 1}${debiased ? ' debiased' : ''}: ${viaFeatures.toFixed(6)}, |features - gram| = ${Math.abs(viaFeatures - viaGram).toExponential(1)} (${n} images)`);
  }
}
