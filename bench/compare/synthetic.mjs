// Synthetic "PCA-like" layer features for the comparison benchmarks: 18 layers of N x D
// float32 scores with a decaying variance spectrum (column c scaled by 1/sqrt(c+1), as PCA
// scores are) and a latent structure that drifts from layer to layer, so neighbouring layers
// are similar and distant ones less so (CKA, RSA and kNN overlap all between 0 and 1).
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { createRandom } from '@strata/core';
import { encodeNpy } from '@strata/core/npy';

const LATENT = 32;

export function syntheticLayers({ images, dimension = 256, layers = 18, seed = 0 }) {
  const random = createRandom(seed);
  let latent = Float64Array.from({ length: images * LATENT }, () => random.normal());
  let loading = Float64Array.from({ length: LATENT * dimension }, () => random.normal());
  const out = [];
  for (let l = 0; l < layers; l++) {
    if (l > 0) {
      // Drift: mix the latent factors a little and add fresh noise.
      const mix = Float64Array.from({ length: LATENT * LATENT }, (_, i) => (i % (LATENT + 1) === 0 ? 0.95 : 0) + (0.15 * random.normal()) / Math.sqrt(LATENT));
      const next = new Float64Array(images * LATENT);
      for (let r = 0; r < images; r++) {
        for (let c = 0; c < LATENT; c++) {
          let v = 0.3 * random.normal();
          for (let t = 0; t < LATENT; t++) v += latent[r * LATENT + t] * mix[t * LATENT + c];
          next[r * LATENT + c] = v;
        }
      }
      latent = next;
    }
    // Loadings drift too, so a layer is not merely a rotation of the previous one.
    if (l > 0) loading = loading.map((v) => 0.9 * v + 0.44 * random.normal());
    const data = new Float32Array(images * dimension);
    for (let r = 0; r < images; r++) {
      for (let c = 0; c < dimension; c++) {
        let v = 0.5 * random.normal();
        for (let t = 0; t < LATENT; t++) v += latent[r * LATENT + t] * loading[t * dimension + c];
        data[r * dimension + c] = v / Math.sqrt(c + 1);
      }
    }
    out.push({ name: `layer${String(l + 1).padStart(2, '0')}`, features: { data, rows: images, columns: dimension } });
  }
  return out;
}

/** Writes each layer as DIR/<name>.npy so numpy reads the very same float32 values. */
export function writeLayers(dir, layers) {
  for (const { name, features } of layers) writeFileSync(join(dir, `${name}.npy`), encodeNpy(features.data, [features.rows, features.columns]));
}
