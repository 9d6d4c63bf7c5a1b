/**
 * The bounded-memory shortcuts against exact values on sets small enough to compute
 * exactly: RSA over a seeded image sample, kNN overlap over a seeded query sample, the two
 * exact CKA routes, and an external RDM sampled while reading vs sampled in memory.
 * Tolerances are 2-3 times the largest error measured over 30 seeds on these very inputs
 * (stated in each test); docs/compare.md gives the errors at full scale (2,000 of 5,000 images).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import {
  compareLayers,
  compareRdms,
  correlateRdmWithLayers,
  linearCka,
  nearestNeighbors,
  neighborOverlap,
  rdmUpperTriangle,
  readRdmFile,
  rsa,
  validateRdm,
  type FeatureMatrix,
} from '../src/compare/index.js';
import { createRandom } from '../src/random.js';

/** Three layers with a shared, drifting latent structure (as in bench/compare/synthetic.mjs, smaller). */
function chain(images: number, columns: number, seed: number): FeatureMatrix[] {
  const random = createRandom(seed);
  const latentDim = 12;
  let latent = Float64Array.from({ length: images * latentDim }, () => random.normal());
  return [0, 1, 2].map(() => {
    latent = latent.map((v) => 0.9 * v + 0.45 * random.normal());
    const loading = Float64Array.from({ length: latentDim * columns }, () => random.normal());
    const data = new Float32Array(images * columns);
    for (let r = 0; r < images; r++) {
      for (let c = 0; c < columns; c++) {
        let v = 0.5 * random.normal();
        for (let t = 0; t < latentDim; t++) v += (latent[r * latentDim + t] as number) * (loading[t * columns + c] as number);
        data[r * columns + c] = v / Math.sqrt(c + 1);
      }
    }
    return { data, rows: images, columns };
  });
}

const IMAGES = 1200;
const layers = chain(IMAGES, 32, 3);
const [first, second, third] = layers as [FeatureMatrix, FeatureMatrix, FeatureMatrix];

describe('CKA routes', () => {
  it('feature-space cross-products and N x N Grams agree to 1e-12 (both exact), biased and debiased', async () => {
    const head = { ...first, data: first.data.subarray(0, 400 * 32), rows: 400 };
    const other = { ...third, data: third.data.subarray(0, 400 * 32), rows: 400 };
    for (const debiased of [false, true]) {
      const viaFeatures = await linearCka(head, other, { method: 'features', debiased });
      const viaGram = await linearCka(head, other, { method: 'gram', debiased });
      expect(Math.abs(viaFeatures - viaGram)).toBeLessThan(1e-12);
      expect(viaFeatures).toBeGreaterThan(0.1);
      expect(viaFeatures).toBeLessThan(0.95);
    }
  });
});

describe('RSA over a seeded image sample', () => {
  it('is within 0.06 of RSA over all 1,200 images for a 400-image sample (30 seeds measured: mean 0.008, max 0.025)', async () => {
    const exact = compareRdms(await rdmUpperTriangle(first), await rdmUpperTriangle(second));
    for (const seed of [0, 1, 2]) {
      const sampled = await rsa(first, second, { maxImages: 400, seed });
      expect(sampled.exact).toBe(false);
      expect(sampled.rows.length).toBe(400);
      expect(Math.abs(sampled.value - exact)).toBeLessThan(0.06);
    }
    expect((await rsa(first, second, { maxImages: IMAGES })).value).toBe(exact);
  });

  it('uses the same images for every layer of the matrix, and the same for a seed', async () => {
    const a = await compareLayers(
      layers.map((features, i) => ({ name: `l${i}`, features })),
      { metric: 'rsa', maxImages: 300, seed: 5 },
    );
    const b = await rsa(first, third, { maxImages: 300, seed: 5 });
    expect(a.values[2]).toBe(b.value);
    expect(a.exact).toBe(false);
    expect(a.imagesUsed).toBe(300);
  });
});

describe('kNN overlap over a seeded query sample', () => {
  it('is within 0.015 of the mean over all 1,200 images for 400 queries (30 seeds measured: mean 0.002, max 0.005)', async () => {
    const exact = neighborOverlap(await nearestNeighbors(first), await nearestNeighbors(second), 10).mean;
    for (const seed of [0, 1, 2]) {
      const sampled = await compareLayers(
        [
          { name: 'a', features: first },
          { name: 'b', features: second },
        ],
        { metric: 'knn', maxQueries: 400, seed },
      );
      expect(sampled.imagesUsed).toBe(400);
      expect(Math.abs((sampled.values[1] as number) - exact)).toBeLessThan(0.015);
    }
  });
});

describe('external RDM sampled while reading', () => {
  it('gives the same images, rho and p as sampling the whole RDM in memory', async () => {
    const size = 150;
    const ids = Array.from({ length: IMAGES }, (_, i) => `stim${i}`);
    const rows = Int32Array.from({ length: size }, (_, i) => i * 7);
    const upper = await rdmUpperTriangle(third, { rows });
    const values = new Float64Array(size * size);
    let p = 0;
    for (let i = 0; i < size; i++) {
      for (let j = i + 1; j < size; j++) {
        values[i * size + j] = upper[p] as number;
        values[j * size + i] = upper[p++] as number;
      }
    }
    const rdmIds = Array.from(rows, (r) => ids[r] as string);
    const whole = validateRdm(values, size, rdmIds, 'brain');
    const csv = join(mkdtempSync(join(tmpdir(), 'strata-compare-shortcuts-')), 'brain.csv');
    const lines = [',' + rdmIds.join(',')];
    for (let i = 0; i < size; i++) lines.push([rdmIds[i], ...Array.from(values.subarray(i * size, i * size + size), (v) => v.toPrecision(17))].join(','));
    writeFileSync(csv, lines.join('\n'));
    const named = layers.map((features, i) => ({ name: `l${i}`, features }));
    const options = { maxImages: 60, seed: 4, permutations: 200 };
    const inMemory = await correlateRdmWithLayers(whole, named, ids, options);
    const whileReading = await correlateRdmWithLayers(readRdmFile(csv, { maxImages: 60, seed: 4 }), named, ids, options);
    expect(whileReading.ids).toEqual(inMemory.ids);
    expect(whileReading.layers).toEqual(inMemory.layers);
    expect(inMemory.exact).toBe(false);
    // The brain RDM here is layer 3's own RDM: rho 1 and the smallest possible p for it.
    expect(inMemory.layers[2]?.rho).toBeCloseTo(1, 12);
    expect(inMemory.layers[2]?.p).toBeCloseTo(1 / 201, 12);
  });
});
