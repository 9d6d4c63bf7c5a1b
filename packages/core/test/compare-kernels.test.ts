/**
 * The two product kernels: onnxruntime's float32 products (float64 sums) against the float64
 * kernel. kNN lists must be identical, including on duplicate and nearly duplicate images whose
 * distances float32 cannot tell apart (the proven error bound sends them to float64); CKA must
 * agree to float32 rounding (measured here ~1e-8; required 1e-6, the parity tolerance).
 */
import { describe, expect, it } from 'vitest';
import { chooseKernel, ckaMatrix, float32DotBound, nearestNeighbors, type FeatureMatrix } from '../src/compare/index.js';
import { createRandom } from '../src/random.js';

/** Clustered rows, then copies: exact duplicates, and near-duplicates differing by ~1e-9 relative (below float32's resolution). */
function awkward(rows: number, columns: number, seed: number): FeatureMatrix {
  const random = createRandom(seed);
  const data = new Float64Array(rows * columns);
  const centres = Float64Array.from({ length: 20 * columns }, () => random.normal());
  for (let r = 0; r < rows; r++) {
    const centre = Math.floor(random.next() * 20) * columns;
    for (let c = 0; c < columns; c++) data[r * columns + c] = (centres[centre + c] as number) + 0.3 * random.normal() + 2;
  }
  for (let r = 0; r + 10 < rows; r += 10) {
    data.copyWithin((r + 1) * columns, r * columns, (r + 1) * columns); // exact duplicate of row r
    for (let c = 0; c < columns; c++) data[(r + 2) * columns + c] = (data[r * columns + c] as number) * (1 + 1e-9 * random.normal());
  }
  return { data, rows, columns };
}

describe('onnxruntime kernel', () => {
  it('finds exactly the float64 kernel neighbours, ties and near-ties included, cosine and euclidean', async () => {
    const features = awkward(1500, 48, 3);
    const queries = Int32Array.from({ length: 300 }, (_, i) => (i * 7) % 1500);
    for (const distance of ['cosine', 'euclidean'] as const) {
      for (const k of [1, 10]) {
        const exact = await nearestNeighbors(features, { k, distance, kernel: 'float64' });
        const onnx = await nearestNeighbors(features, { k, distance, kernel: 'onnxruntime' });
        expect(Array.from(onnx), `${distance} k=${k}`).toEqual(Array.from(exact));
        // The float64 kernel's all-pairs and query paths agree on these ties too (distances are symmetric to the bit).
        const all = Int32Array.from({ length: features.rows }, (_, i) => i);
        expect(Array.from(await nearestNeighbors(features, { k, distance, queries: all, kernel: 'float64' }))).toEqual(Array.from(exact));
        // Small query blocks (a tight memory budget that still holds the layer) change nothing.
        const some = await nearestNeighbors(features, { k, distance, queries, kernel: 'onnxruntime', memoryBytes: 2 ** 21 });
        expect(Array.from(some)).toEqual(Array.from(queries).flatMap((q) => Array.from(exact.subarray(q * k, q * k + k))));
      }
    }
    // A duplicate's nearest neighbour is its twin (distance 0), the lower index first.
    const lists = await nearestNeighbors(features, { k: 2, kernel: 'onnxruntime' });
    expect(lists[1 * 2]).toBe(0);
    expect(lists[0]).toBe(1);
  });

  it('gives CKA within float32 rounding of the float64 kernel, both routes, biased and debiased', async () => {
    const random = createRandom(9);
    const latent = Float64Array.from({ length: 1200 * 8 }, () => random.normal());
    const layers = [40, 24, 64].map((columns, l) => {
      const data = new Float32Array(1200 * columns);
      for (let r = 0; r < 1200; r++) for (let c = 0; c < columns; c++) data[r * columns + c] = (latent[r * 8 + (c % 8)] as number) * (1 + (c % 5)) + (l + 0.5) * random.normal() + 10;
      return { name: `l${l}`, features: { data, rows: 1200, columns } };
    });
    for (const debiased of [false, true]) {
      const exact = await ckaMatrix(layers, { debiased, kernel: 'float64' });
      for (const method of ['features', 'gram'] as const) {
        const onnx = await ckaMatrix(layers, { debiased, method, kernel: 'onnxruntime' });
        const difference = Math.max(...Array.from(exact, (v, i) => Math.abs(v - (onnx[i] as number))));
        expect(difference, `${method} debiased=${debiased}`).toBeLessThan(1e-6);
      }
    }
  });

  it('is chosen by size under auto, and its error bound is that of float32 sums', () => {
    expect(chooseKernel('auto', 1e6)).toBe('float64');
    expect(chooseKernel('auto', 1e10)).toBe('onnxruntime');
    expect(chooseKernel('float64', 1e12)).toBe('float64');
    expect(float32DotBound(256)).toBeCloseTo(2 * ((256 * 2 ** -24) / (1 - 256 * 2 ** -24) + 3 * 2 ** -24), 18);
    expect(() => float32DotBound(2 ** 23)).toThrow(/no useful error bound/);
  });
});
