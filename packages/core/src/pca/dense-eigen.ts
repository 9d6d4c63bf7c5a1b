/**
 * Eigen-decomposition of a dense symmetric matrix in Float64Array: Householder
 * tridiagonalisation followed by the implicit QL method (EISPACK's tred2/tql2, as in JAMA),
 * with everything stored column-major so that every inner loop runs over contiguous memory.
 *
 * It is used on small matrices only (the Rayleigh-Ritz matrix of the subspace solver, a few
 * hundred wide, or the whole Gram matrix when the sample is small): it costs about 9 n^3
 * flops in plain JavaScript (~1-2 GFLOP/s), so n = 400 takes ~0.3 s and n = 1000 ~5 s.
 * ml-matrix's EigenvalueDecomposition is the same algorithm on arrays of arrays with
 * column-strided loops, and took over 5 minutes for n = 2000.
 */

export interface SymmetricEigen {
  /** Eigenvalues, largest first. */
  readonly values: Float64Array;
  /** Eigenvectors, column-major n x n: vector j is `vectors.subarray(j * n, (j + 1) * n)`, in the order of `values`. */
  readonly vectors: Float64Array;
}

/**
 * Eigenvalues and eigenvectors of the symmetric n x n matrix `a` (row- or column-major: it is
 * symmetric). Only the lower triangle is read. `a` is not modified.
 */
export function symmetricEigen(a: Float64Array, n: number): SymmetricEigen {
  if (a.length !== n * n) throw new RangeError(`symmetricEigen: matrix has ${a.length} values, expected ${n} x ${n} = ${n * n}`);
  const v = Float64Array.from(a);
  const d = new Float64Array(n);
  const e = new Float64Array(n);
  if (n === 0) return { values: d, vectors: v };
  tridiagonalize(v, d, e, n);
  tridiagonalQl(v, d, e, n);
  // tql2 leaves values ascending; callers want the largest first.
  const order = Array.from({ length: n }, (_, i) => n - 1 - i);
  const values = new Float64Array(n);
  const vectors = new Float64Array(n * n);
  for (let j = 0; j < n; j += 1) {
    const from = order[j] ?? 0;
    values[j] = d[from] ?? 0;
    vectors.set(v.subarray(from * n, (from + 1) * n), j * n);
  }
  return { values, vectors };
}

/**
 * tred2: reduces the symmetric matrix held in `v` to tridiagonal form (diagonal `d`,
 * sub-diagonal `e`), leaving the orthogonal transformation in `v`. `v` is column-major:
 * element (row r, column c) is v[c * n + r]; the EISPACK loops over k below index rows.
 */
function tridiagonalize(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let j = 0; j < n; j += 1) d[j] = v[j * n + (n - 1)] as number;
  for (let i = n - 1; i > 0; i -= 1) {
    let scale = 0;
    let h = 0;
    for (let k = 0; k < i; k += 1) scale += Math.abs(d[k] as number);
    if (scale === 0) {
      e[i] = d[i - 1] as number;
      for (let j = 0; j < i; j += 1) {
        d[j] = v[j * n + (i - 1)] as number;
        v[j * n + i] = 0;
        v[i * n + j] = 0;
      }
    } else {
      for (let k = 0; k < i; k += 1) {
        const dk = (d[k] as number) / scale;
        d[k] = dk;
        h += dk * dk;
      }
      let f = d[i - 1] as number;
      let g = Math.sqrt(h);
      if (f > 0) g = -g;
      e[i] = scale * g;
      h -= f * g;
      d[i - 1] = f - g;
      for (let j = 0; j < i; j += 1) e[j] = 0;
      for (let j = 0; j < i; j += 1) {
        f = d[j] as number;
        const col = j * n;
        v[i * n + j] = f;
        g = (e[j] as number) + (v[col + j] as number) * f;
        for (let k = j + 1; k <= i - 1; k += 1) {
          const vkj = v[col + k] as number;
          g += vkj * (d[k] as number);
          e[k] = (e[k] as number) + vkj * f;
        }
        e[j] = g;
      }
      f = 0;
      for (let j = 0; j < i; j += 1) {
        const ej = (e[j] as number) / h;
        e[j] = ej;
        f += ej * (d[j] as number);
      }
      const hh = f / (h + h);
      for (let j = 0; j < i; j += 1) e[j] = (e[j] as number) - hh * (d[j] as number);
      for (let j = 0; j < i; j += 1) {
        f = d[j] as number;
        g = e[j] as number;
        const col = j * n;
        for (let k = j; k <= i - 1; k += 1) v[col + k] = (v[col + k] as number) - (f * (e[k] as number) + g * (d[k] as number));
        d[j] = v[col + i - 1] as number;
        v[col + i] = 0;
      }
    }
    d[i] = h;
  }
  // Accumulate the transformations.
  for (let i = 0; i < n - 1; i += 1) {
    v[i * n + (n - 1)] = v[i * n + i] as number;
    v[i * n + i] = 1;
    const h = d[i + 1] as number;
    const next = (i + 1) * n;
    if (h !== 0) {
      for (let k = 0; k <= i; k += 1) d[k] = (v[next + k] as number) / h;
      for (let j = 0; j <= i; j += 1) {
        const col = j * n;
        let g = 0;
        for (let k = 0; k <= i; k += 1) g += (v[next + k] as number) * (v[col + k] as number);
        for (let k = 0; k <= i; k += 1) v[col + k] = (v[col + k] as number) - g * (d[k] as number);
      }
    }
    for (let k = 0; k <= i; k += 1) v[next + k] = 0;
  }
  for (let j = 0; j < n; j += 1) {
    d[j] = v[j * n + (n - 1)] as number;
    v[j * n + (n - 1)] = 0;
  }
  v[(n - 1) * n + (n - 1)] = 1;
  e[0] = 0;
}

/** tql2: eigenvalues and eigenvectors of the tridiagonal matrix (d, e), applied to `v`. */
function tridiagonalQl(v: Float64Array, d: Float64Array, e: Float64Array, n: number): void {
  for (let i = 1; i < n; i += 1) e[i - 1] = e[i] as number;
  e[n - 1] = 0;
  let f = 0;
  let tst1 = 0;
  const eps = 2 ** -52;
  for (let l = 0; l < n; l += 1) {
    tst1 = Math.max(tst1, Math.abs(d[l] as number) + Math.abs(e[l] as number));
    let m = l;
    while (m < n) {
      if (Math.abs(e[m] as number) <= eps * tst1) break;
      m += 1;
    }
    // e[n - 1] is 0, so m < n always stops the scan above.
    if (m > l) {
      let iterations = 0;
      do {
        iterations += 1;
        if (iterations > 60) throw new Error(`symmetricEigen: QL iteration did not converge for eigenvalue ${l} of ${n}`);
        let g = d[l] as number;
        let p = ((d[l + 1] as number) - g) / (2 * (e[l] as number));
        let r = hypot(p, 1);
        if (p < 0) r = -r;
        d[l] = (e[l] as number) / (p + r);
        d[l + 1] = (e[l] as number) * (p + r);
        const dl1 = d[l + 1] as number;
        let h = g - (d[l] as number);
        for (let i = l + 2; i < n; i += 1) d[i] = (d[i] as number) - h;
        f += h;
        p = d[m] as number;
        let c = 1;
        let c2 = c;
        let c3 = c;
        const el1 = e[l + 1] as number;
        let s = 0;
        let s2 = 0;
        for (let i = m - 1; i >= l; i -= 1) {
          c3 = c2;
          c2 = c;
          s2 = s;
          const ei = e[i] as number;
          g = c * ei;
          h = c * p;
          r = hypot(p, ei);
          e[i + 1] = s * r;
          s = ei / r;
          c = p / r;
          const di = d[i] as number;
          p = c * di - s * g;
          d[i + 1] = h + s * (c * g + s * di);
          const a = (i + 1) * n;
          const b = i * n;
          for (let k = 0; k < n; k += 1) {
            const hk = v[a + k] as number;
            const vk = v[b + k] as number;
            v[a + k] = s * vk + c * hk;
            v[b + k] = c * vk - s * hk;
          }
        }
        p = (-s * s2 * c3 * el1 * (e[l] as number)) / dl1;
        e[l] = s * p;
        d[l] = c * p;
      } while (Math.abs(e[l] as number) > eps * tst1);
    }
    d[l] = (d[l] as number) + f;
    e[l] = 0;
  }
  // Selection sort, ascending, moving vectors with their values.
  for (let i = 0; i < n - 1; i += 1) {
    let k = i;
    let p = d[i] as number;
    for (let j = i + 1; j < n; j += 1) {
      if ((d[j] as number) < p) {
        k = j;
        p = d[j] as number;
      }
    }
    if (k !== i) {
      d[k] = d[i] as number;
      d[i] = p;
      const a = i * n;
      const b = k * n;
      for (let r = 0; r < n; r += 1) {
        const t = v[a + r] as number;
        v[a + r] = v[b + r] as number;
        v[b + r] = t;
      }
    }
  }
}

/** sqrt(a^2 + b^2) without Math.hypot's slow path; scaled so squares cannot overflow. */
function hypot(a: number, b: number): number {
  const x = Math.abs(a);
  const y = Math.abs(b);
  const big = x > y ? x : y;
  if (big === 0) return 0;
  if (big < 1e150 && big > 1e-150) return Math.sqrt(a * a + b * b);
  const small = x > y ? y : x;
  const ratio = small / big;
  return big * Math.sqrt(1 + ratio * ratio);
}
