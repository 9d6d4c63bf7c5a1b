/**
 * Singular value decomposition of a small square matrix (the d x d cross-product of two
 * d-dimensional maps in Procrustes alignment) by one-sided Jacobi rotations: simple, and
 * accurate to machine precision for the 2 x 2 and 3 x 3 cases that matter here.
 */

export interface SmallSvd {
  /** d x d, row-major, orthogonal. */
  readonly u: Float64Array;
  /** Singular values, descending. */
  readonly s: Float64Array;
  /** d x d, row-major, orthogonal: m = u diag(s) vᵀ. */
  readonly v: Float64Array;
}

export function svdSmall(m: Float64Array, d: number): SmallSvd {
  const a = Float64Array.from(m);
  const v = new Float64Array(d * d);
  for (let i = 0; i < d; i++) v[i * d + i] = 1;
  for (let sweep = 0; sweep < 60; sweep++) {
    let rotated = false;
    for (let p = 0; p < d - 1; p++) {
      for (let q = p + 1; q < d; q++) {
        let alpha = 0;
        let beta = 0;
        let gamma = 0;
        for (let i = 0; i < d; i++) {
          const x = a[i * d + p] as number;
          const y = a[i * d + q] as number;
          alpha += x * x;
          beta += y * y;
          gamma += x * y;
        }
        if (gamma === 0 || Math.abs(gamma) <= 1e-15 * Math.sqrt(alpha * beta)) continue;
        rotated = true;
        const zeta = (beta - alpha) / (2 * gamma);
        const t = (zeta >= 0 ? 1 : -1) / (Math.abs(zeta) + Math.sqrt(1 + zeta * zeta));
        const c = 1 / Math.sqrt(1 + t * t);
        const s = c * t;
        for (const matrix of [a, v]) {
          for (let i = 0; i < d; i++) {
            const x = matrix[i * d + p] as number;
            const y = matrix[i * d + q] as number;
            matrix[i * d + p] = c * x - s * y;
            matrix[i * d + q] = s * x + c * y;
          }
        }
      }
    }
    if (!rotated) break;
  }
  // Column norms are the singular values; sort them descending with their vectors.
  const norms = Array.from({ length: d }, (_, j) => {
    let sum = 0;
    for (let i = 0; i < d; i++) sum += (a[i * d + j] as number) ** 2;
    return Math.sqrt(sum);
  });
  const order = norms.map((_, j) => j).sort((x, y) => (norms[y] as number) - (norms[x] as number));
  const u = new Float64Array(d * d);
  const vs = new Float64Array(d * d);
  const s = new Float64Array(d);
  const largest = norms[order[0] as number] as number;
  let filled = 0;
  order.forEach((j, column) => {
    const sigma = norms[j] as number;
    s[column] = sigma;
    for (let i = 0; i < d; i++) vs[i * d + column] = v[i * d + j] as number;
    if (sigma > 1e-14 * largest) {
      for (let i = 0; i < d; i++) u[i * d + column] = (a[i * d + j] as number) / sigma;
      filled = column + 1;
    }
  });
  // Zero singular values leave u's columns free: complete them to an orthonormal basis.
  for (let column = filled; column < d; column++) {
    for (let e = 0; e < d; e++) {
      const candidate = new Float64Array(d);
      candidate[e] = 1;
      for (let prior = 0; prior < column; prior++) {
        let dot = 0;
        for (let i = 0; i < d; i++) dot += (u[i * d + prior] as number) * (candidate[i] as number);
        for (let i = 0; i < d; i++) candidate[i] = (candidate[i] as number) - dot * (u[i * d + prior] as number);
      }
      const norm = Math.hypot(...candidate);
      if (norm > 1e-6) {
        for (let i = 0; i < d; i++) u[i * d + column] = (candidate[i] as number) / norm;
        break;
      }
    }
  }
  return { u, s, v: vs };
}

/** Determinant sign of an orthogonal d x d matrix (+1 rotation, -1 reflection), via LU. */
export function determinant(m: Float64Array, d: number): number {
  const a = Float64Array.from(m);
  let det = 1;
  for (let col = 0; col < d; col++) {
    let pivot = col;
    for (let r = col + 1; r < d; r++) if (Math.abs(a[r * d + col] as number) > Math.abs(a[pivot * d + col] as number)) pivot = r;
    if (a[pivot * d + col] === 0) return 0;
    if (pivot !== col) {
      for (let c = 0; c < d; c++) {
        const t = a[col * d + c] as number;
        a[col * d + c] = a[pivot * d + c] as number;
        a[pivot * d + c] = t;
      }
      det = -det;
    }
    const p = a[col * d + col] as number;
    det *= p;
    for (let r = col + 1; r < d; r++) {
      const f = (a[r * d + col] as number) / p;
      for (let c = col; c < d; c++) a[r * d + c] = (a[r * d + c] as number) - f * (a[col * d + c] as number);
    }
  }
  return det;
}
