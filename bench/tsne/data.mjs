// Benchmark inputs for t-SNE: seeded synthetic clusters, and the same rotated onto their
// principal axes (what Strata's stored PCA vectors look like: centred, uncorrelated
// components of falling variance). The same numbers on every machine for one (n, dim).
import { execFileSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export const python = process.env.STRATA_REFERENCE_PYTHON ?? '/usr/bin/python3';

/** mulberry32 uniforms and Box-Muller normals. */
export function generator(seed) {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = () => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  return { next, normal };
}

/**
 * Stand-in for CNN features: 40 classes, each a 10-dimensional Gaussian "manifold" (random
 * linear map) around its own centre, plus isotropic noise, in `dim` dimensions.
 */
export function synthetic(n, dim) {
  const { normal } = generator(42);
  const classes = 40;
  const intrinsic = 10;
  const centres = Float64Array.from({ length: classes * dim }, () => 2 * normal());
  const maps = Float64Array.from({ length: classes * intrinsic * dim }, () => normal() / Math.sqrt(intrinsic));
  const x = new Float32Array(n * dim);
  const z = new Float64Array(intrinsic);
  for (let i = 0; i < n; i++) {
    const c = i % classes;
    for (let l = 0; l < intrinsic; l++) z[l] = 2 * normal();
    for (let d = 0; d < dim; d++) {
      let v = centres[c * dim + d] + 0.7 * normal();
      for (let l = 0; l < intrinsic; l++) v += z[l] * maps[(c * intrinsic + l) * dim + d];
      x[i * dim + d] = v;
    }
  }
  return x;
}

/** `x` centred and rotated onto its principal axes, largest variance first (NumPy eigh of X^T X). */
export function principalAxes(x, n, dim, scratchDir) {
  const input = join(scratchDir, `pca-in-${n}x${dim}.f32`);
  const output = join(scratchDir, `pca-out-${n}x${dim}.f32`);
  writeFileSync(input, Buffer.from(x.buffer, x.byteOffset, x.byteLength));
  const script = `
import sys, numpy as np
n, d = int(sys.argv[3]), int(sys.argv[4])
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(n, d).astype(np.float64)
X -= X.mean(axis=0)
w, V = np.linalg.eigh(X.T @ X)
(X @ V[:, ::-1]).astype(np.float32).tofile(sys.argv[2])
`;
  execFileSync(python, ['-c', script, input, output, String(n), String(dim)]);
  const bytes = readFileSync(output);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}
