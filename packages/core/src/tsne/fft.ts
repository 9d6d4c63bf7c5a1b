/**
 * In-place radix-2 complex FFT on split real/imaginary arrays. The FFT repulsion feeds it real
 * grids two at a time (one as the real part, one as the imaginary part: the convolution kernel
 * is real, so the two results separate again), which is how a real FFT is done with a complex
 * one at no loss. No package in reach provided one (docs/tsne.md), and this is small.
 */

export class ComplexFft {
  readonly size: number;
  private readonly cos: Float64Array;
  private readonly sin: Float64Array;
  private readonly reverse: Int32Array;

  constructor(size: number) {
    if (!Number.isInteger(size) || size < 2 || (size & (size - 1)) !== 0) {
      throw new RangeError(`FFT size must be a power of two >= 2, got ${size}`);
    }
    this.size = size;
    this.cos = new Float64Array(size / 2);
    this.sin = new Float64Array(size / 2);
    for (let k = 0; k < size / 2; k++) {
      this.cos[k] = Math.cos((2 * Math.PI * k) / size);
      this.sin[k] = Math.sin((2 * Math.PI * k) / size);
    }
    this.reverse = new Int32Array(size);
    const bits = Math.log2(size);
    for (let i = 0; i < size; i++) {
      let r = 0;
      for (let b = 0; b < bits; b++) r |= ((i >> b) & 1) << (bits - 1 - b);
      this.reverse[i] = r;
    }
  }

  /** X[k] = sum_t x[t] e^{-2 pi i k t / n} over re/im[offset .. offset + n). */
  forward(re: Float64Array, im: Float64Array, offset = 0): void {
    this.transform(re, im, offset, -1);
  }

  /** Unscaled inverse: x[t] = sum_k X[k] e^{+2 pi i k t / n} (divide by n yourself). */
  inverse(re: Float64Array, im: Float64Array, offset = 0): void {
    this.transform(re, im, offset, 1);
  }

  private transform(re: Float64Array, im: Float64Array, offset: number, sign: number): void {
    const n = this.size;
    const reverse = this.reverse;
    for (let i = 0; i < n; i++) {
      const j = reverse[i] as number;
      if (j > i) {
        const a = offset + i;
        const b = offset + j;
        const tr = re[a] as number;
        re[a] = re[b] as number;
        re[b] = tr;
        const ti = im[a] as number;
        im[a] = im[b] as number;
        im[b] = ti;
      }
    }
    const end = offset + n;
    let half = 1;
    // With an odd number of stages, the first (unit twiddles) runs alone.
    if ((Math.log2(n) & 1) === 1) {
      for (let i = offset; i < end; i += 2) {
        const ar = re[i] as number;
        const ai = im[i] as number;
        const br = re[i + 1] as number;
        const bi = im[i + 1] as number;
        re[i] = ar + br;
        im[i] = ai + bi;
        re[i + 1] = ar - br;
        im[i + 1] = ai - bi;
      }
      half = 2;
    }
    const cos = this.cos;
    const sin = this.sin;
    // Two radix-2 stages at once (blocks of 2h merged, then 4h): three complex products per
    // four points instead of four, and half the passes over memory.
    for (; half < n; half *= 4) {
      const quarterStep = n / (4 * half);
      const halfStep = 2 * quarterStep;
      for (let k = 0; k < half; k++) {
        const w1r = cos[k * halfStep] as number;
        const w1i = sign * (sin[k * halfStep] as number);
        const w2r = cos[k * quarterStep] as number;
        const w2i = sign * (sin[k * quarterStep] as number);
        for (let a0 = offset + k; a0 < end; a0 += 4 * half) {
          const a1 = a0 + half;
          const a2 = a1 + half;
          const a3 = a2 + half;
          // Stage 1: pairs (a0, a1) and (a2, a3) with twiddle w1.
          let xr = re[a1] as number;
          let xi = im[a1] as number;
          let tr = xr * w1r - xi * w1i;
          let ti = xr * w1i + xi * w1r;
          const x0r = (re[a0] as number) + tr;
          const x0i = (im[a0] as number) + ti;
          const x1r = (re[a0] as number) - tr;
          const x1i = (im[a0] as number) - ti;
          xr = re[a3] as number;
          xi = im[a3] as number;
          tr = xr * w1r - xi * w1i;
          ti = xr * w1i + xi * w1r;
          const x2r = (re[a2] as number) + tr;
          const x2i = (im[a2] as number) + ti;
          const x3r = (re[a2] as number) - tr;
          const x3i = (im[a2] as number) - ti;
          // Stage 2: (a0, a2) with w2, (a1, a3) with w2 times sign * i (a quarter turn).
          tr = x2r * w2r - x2i * w2i;
          ti = x2r * w2i + x2i * w2r;
          re[a0] = x0r + tr;
          im[a0] = x0i + ti;
          re[a2] = x0r - tr;
          im[a2] = x0i - ti;
          const ur = x3r * w2r - x3i * w2i;
          const ui = x3r * w2i + x3i * w2r;
          // (ur + i ui) * (sign i) = -sign ui + i sign ur
          tr = -sign * ui;
          ti = sign * ur;
          re[a1] = x1r + tr;
          im[a1] = x1i + ti;
          re[a3] = x1r - tr;
          im[a3] = x1i - ti;
        }
      }
    }
  }
}

const cache = new Map<number, ComplexFft>();

/** One plan per size per thread: the twiddle tables are reused by every row and column. */
export function fftOfSize(size: number): ComplexFft {
  let plan = cache.get(size);
  if (plan === undefined) {
    plan = new ComplexFft(size);
    cache.set(size, plan);
  }
  return plan;
}
