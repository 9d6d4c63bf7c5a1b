/**
 * Pillow's convolution resampling, ported from libImaging/Resample.c (Pillow 9.4), so that a
 * resize gives the same bytes as `img.resize((w, h), filter)` for BOX, BILINEAR, HAMMING,
 * BICUBIC and LANCZOS (= the old ANTIALIAS). BILINEAR is what torchvision's `Resize` calls on a
 * PIL image; LANCZOS is what the t-SNE mosaic recipe uses for its tiles.
 *
 * This is not textbook bilinear interpolation: Pillow uses a triangle filter whose support
 * grows with the reduction factor (so downscaling averages every source pixel, i.e. it
 * antialiases), normalises each output pixel's weights to sum to 1, then turns them into
 * 22-bit fixed point. The image is resampled horizontally first, then vertically, and a pass
 * is skipped when its axis keeps its size. Every double operation below is done in the same
 * order as in the C code, so the integer coefficients, and hence the pixels, are identical.
 *
 * Only the defaults of `Image.resize` are reproduced: box = the whole image, reducing_gap =
 * None. Channels are resampled independently. That matches Pillow for L and RGB (the modes
 * the pipeline uses); for RGBA/LA Pillow would premultiply alpha first, which this does not.
 *
 * The one operation not under our control is `sin`/`cos` (HAMMING, LANCZOS): V8's fdlibm and
 * glibc's libm differ by 1 ulp on about 3% of arguments. A weight only changes if that ulp
 * moves `k * 2^22` across a half-integer, about 1e-9 per weight; test/pil-resize-filters.test.ts
 * compares the integer weights of thousands of size pairs with a Python replica using glibc's
 * sin, and the pixels with Pillow itself.
 */
import type { RawImage } from './raw-image.js';

/** 32 bits minus 8 for the result and 2 for the overshoot of filters with negative lobes. */
const PRECISION_BITS = 32 - 8 - 2;
const ONE = 1 << PRECISION_BITS;
const HALF = 1 << (PRECISION_BITS - 1);

export interface ResizeSize {
  readonly width: number;
  readonly height: number;
}

/** Fixed-point filter weights for one axis: output pixel i reads `count[i]` inputs from `first[i]`. */
interface AxisCoefficients {
  readonly first: Int32Array;
  readonly count: Int32Array;
  /** `ksize` weights per output pixel, in units of 2^-22. */
  readonly weights: Int32Array;
  readonly ksize: number;
}

/** Pillow's resampling filters that go through Resample.c (NEAREST does not). */
export type PilFilter = 'box' | 'bilinear' | 'hamming' | 'bicubic' | 'lanczos';

export const PIL_FILTERS: readonly PilFilter[] = Object.freeze(['box', 'bilinear', 'hamming', 'bicubic', 'lanczos']);

interface FilterKernel {
  readonly fn: (x: number) => number;
  /** Half-width of the kernel at scale 1, in input pixels. */
  readonly support: number;
}

// The kernels below keep Resample.c's comparisons and operation order exactly: a change of
// one ulp in a weight can flip its 22-bit rounding and so a pixel.
function boxFilter(x: number): number {
  if (x > -0.5 && x <= 0.5) return 1.0;
  return 0.0;
}

function bilinearFilter(x: number): number {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

/** `0.54f` and `0.46f` are C float literals, promoted to double: not 0.54 and 0.46. */
const HAMMING_A = Math.fround(0.54);
const HAMMING_B = Math.fround(0.46);

function hammingFilter(x: number): number {
  if (x < 0.0) x = -x;
  if (x === 0.0) return 1.0;
  if (x >= 1.0) return 0.0;
  x = x * Math.PI;
  return (Math.sin(x) / x) * (HAMMING_A + HAMMING_B * Math.cos(x));
}

function bicubicFilter(x: number): number {
  const a = -0.5;
  if (x < 0.0) x = -x;
  if (x < 1.0) return ((a + 2.0) * x - (a + 3.0)) * x * x + 1;
  if (x < 2.0) return (((x - 5) * x + 8) * x - 4) * a;
  return 0.0;
}

function sincFilter(x: number): number {
  if (x === 0.0) return 1.0;
  x = x * Math.PI;
  return Math.sin(x) / x;
}

function lanczosFilter(x: number): number {
  if (-3.0 <= x && x < 3.0) return sincFilter(x) * sincFilter(x / 3);
  return 0.0;
}

const KERNELS: Readonly<Record<PilFilter, FilterKernel>> = {
  box: { fn: boxFilter, support: 0.5 },
  bilinear: { fn: bilinearFilter, support: 1.0 },
  hamming: { fn: hammingFilter, support: 1.0 },
  bicubic: { fn: bicubicFilter, support: 2.0 },
  lanczos: { fn: lanczosFilter, support: 3.0 },
};

function kernelOf(filter: PilFilter): FilterKernel {
  const kernel = (KERNELS as Partial<Record<string, FilterKernel>>)[filter];
  if (kernel === undefined) {
    throw new RangeError(`unknown resampling filter '${String(filter)}', expected one of ${PIL_FILTERS.join(', ')}`);
  }
  return kernel;
}

/** precompute_coeffs + normalize_coeffs_8bpc, for box [0, inSize) and one filter. */
function precomputeCoefficients(inSize: number, outSize: number, kernel: FilterKernel): AxisCoefficients {
  const filterFn = kernel.fn;
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = kernel.support * filterscale;
  const ksize = Math.ceil(support) * 2 + 1;
  const first = new Int32Array(outSize);
  const count = new Int32Array(outSize);
  const weights = new Int32Array(outSize * ksize);
  const k = new Float64Array(ksize);
  const ss = 1.0 / filterscale;
  for (let xx = 0; xx < outSize; xx++) {
    // in0 is 0 here; kept so that the expression matches `in0 + (xx + 0.5) * scale`.
    const center = 0 + (xx + 0.5) * scale;
    let ww = 0.0;
    // C's (int) cast truncates toward zero.
    let xmin = Math.trunc(center - support + 0.5);
    if (xmin < 0) xmin = 0;
    let xmax = Math.trunc(center + support + 0.5);
    if (xmax > inSize) xmax = inSize;
    xmax -= xmin;
    for (let x = 0; x < xmax; x++) {
      const w = filterFn((x + xmin - center + 0.5) * ss);
      k[x] = w;
      ww += w;
    }
    const base = xx * ksize;
    for (let x = 0; x < xmax; x++) {
      const normalised = ww !== 0.0 ? (k[x] ?? 0) / ww : (k[x] ?? 0);
      weights[base + x] =
        normalised < 0 ? Math.trunc(-0.5 + normalised * ONE) : Math.trunc(0.5 + normalised * ONE);
    }
    first[xx] = xmin;
    count[xx] = xmax;
  }
  return { first, count, weights, ksize };
}

/** clip8: the fixed-point sum back to a byte, with Pillow's floor shift and clamp. */
function clip8(sum: number): number {
  const v = sum >> PRECISION_BITS;
  return v < 0 ? 0 : v > 255 ? 255 : v;
}

/** Resamples rows [rowFirst, rowFirst + rows) of `src` horizontally to `outWidth`. */
function resampleHorizontal(
  src: Uint8Array,
  srcWidth: number,
  channels: number,
  rowFirst: number,
  rows: number,
  outWidth: number,
  coeffs: AxisCoefficients,
): Uint8Array {
  const out = new Uint8Array(outWidth * rows * channels);
  const { first, count, weights, ksize } = coeffs;
  const srcStride = srcWidth * channels;
  const outStride = outWidth * channels;
  let yy = 0;
  if (channels === 3) {
    // Two rows at a time: each weight is loaded once for six multiply-adds, which makes this
    // pass (most of a downscale's work) 1.6x faster. The sums are exact integers either way.
    for (; yy + 1 < rows; yy += 2) {
      const rowBase = (yy + rowFirst) * srcStride;
      const outBase = yy * outStride;
      for (let xx = 0; xx < outWidth; xx++) {
        const xmax = count[xx] ?? 0;
        const kBase = xx * ksize;
        const o = outBase + xx * 3;
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        let t0 = HALF;
        let t1 = HALF;
        let t2 = HALF;
        for (let x = 0, p = rowBase + (first[xx] ?? 0) * 3; x < xmax; x++, p += 3) {
          const w = weights[kBase + x] ?? 0;
          const q = p + srcStride;
          s0 += (src[p] ?? 0) * w;
          s1 += (src[p + 1] ?? 0) * w;
          s2 += (src[p + 2] ?? 0) * w;
          t0 += (src[q] ?? 0) * w;
          t1 += (src[q + 1] ?? 0) * w;
          t2 += (src[q + 2] ?? 0) * w;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
        out[o + outStride] = clip8(t0);
        out[o + outStride + 1] = clip8(t1);
        out[o + outStride + 2] = clip8(t2);
      }
    }
  }
  for (; yy < rows; yy++) {
    const rowBase = (yy + rowFirst) * srcStride;
    const outBase = yy * outStride;
    for (let xx = 0; xx < outWidth; xx++) {
      const xmin = first[xx] ?? 0;
      const xmax = count[xx] ?? 0;
      const kBase = xx * ksize;
      const inBase = rowBase + xmin * channels;
      const o = outBase + xx * channels;
      if (channels === 3) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let x = 0, p = inBase; x < xmax; x++, p += 3) {
          const w = weights[kBase + x] ?? 0;
          s0 += (src[p] ?? 0) * w;
          s1 += (src[p + 1] ?? 0) * w;
          s2 += (src[p + 2] ?? 0) * w;
        }
        out[o] = clip8(s0);
        out[o + 1] = clip8(s1);
        out[o + 2] = clip8(s2);
      } else {
        for (let c = 0; c < channels; c++) {
          let s = HALF;
          for (let x = 0, p = inBase + c; x < xmax; x++, p += channels) {
            s += (src[p] ?? 0) * (weights[kBase + x] ?? 0);
          }
          out[o + c] = clip8(s);
        }
      }
    }
  }
  return out;
}

/** Resamples `src` (width × its rows) vertically to `outHeight` rows. */
function resampleVertical(
  src: Uint8Array,
  width: number,
  channels: number,
  outHeight: number,
  coeffs: AxisCoefficients,
  rowShift: number,
): Uint8Array {
  const stride = width * channels;
  const out = new Uint8Array(stride * outHeight);
  const { first, count, weights, ksize } = coeffs;
  if (channels === 3) {
    // One pixel at a time with its three sums in registers: 1.7x faster than the row
    // accumulator below, which loads and stores a sum per multiply.
    for (let yy = 0; yy < outHeight; yy++) {
      const base = ((first[yy] ?? 0) - rowShift) * stride;
      const ymax = count[yy] ?? 0;
      const kBase = yy * ksize;
      const outBase = yy * stride;
      for (let i = 0; i < stride; i += 3) {
        let s0 = HALF;
        let s1 = HALF;
        let s2 = HALF;
        for (let y = 0, p = base + i; y < ymax; y++, p += stride) {
          const w = weights[kBase + y] ?? 0;
          s0 += (src[p] ?? 0) * w;
          s1 += (src[p + 1] ?? 0) * w;
          s2 += (src[p + 2] ?? 0) * w;
        }
        out[outBase + i] = clip8(s0);
        out[outBase + i + 1] = clip8(s1);
        out[outBase + i + 2] = clip8(s2);
      }
    }
    return out;
  }
  // Accumulating whole rows reads memory in order; the integer sums are exact, so the
  // order of additions does not change the result.
  const acc = new Int32Array(stride);
  for (let yy = 0; yy < outHeight; yy++) {
    const ymin = (first[yy] ?? 0) - rowShift;
    const ymax = count[yy] ?? 0;
    const kBase = yy * ksize;
    acc.fill(HALF);
    for (let y = 0; y < ymax; y++) {
      const w = weights[kBase + y] ?? 0;
      const rowBase = (y + ymin) * stride;
      for (let i = 0; i < stride; i++) acc[i] = (acc[i] ?? 0) + (src[rowBase + i] ?? 0) * w;
    }
    const outBase = yy * stride;
    for (let i = 0; i < stride; i++) out[outBase + i] = clip8(acc[i] ?? 0);
  }
  return out;
}

export interface PilResizeOptions {
  /**
   * Resampling filter. Default 'bicubic', Pillow 9.4's default for `Image.resize` on 8-bit
   * images. 'lanczos' is `Image.LANCZOS`, also spelt `Image.ANTIALIAS`.
   */
  readonly filter?: PilFilter;
}

/**
 * The integer weights Pillow computes for resizing one axis from `inSize` to `outSize` pixels:
 * output pixel i reads `count[i]` inputs from `first[i]` with weights
 * `weights[i * ksize .. i * ksize + count[i])`, in units of 2^-22. Exposed so that tests can
 * compare them wholesale with Pillow's arithmetic, far beyond what pixel tests reach.
 */
export function pilResizeCoefficients(
  inSize: number,
  outSize: number,
  filter: PilFilter,
): { readonly first: Int32Array; readonly count: Int32Array; readonly weights: Int32Array; readonly ksize: number } {
  for (const [name, value] of [['inSize', inSize], ['outSize', outSize]] as const) {
    if (!Number.isInteger(value) || value < 1) throw new RangeError(`${name} must be a positive integer, got ${String(value)}`);
  }
  return precomputeCoefficients(inSize, outSize, kernelOf(filter));
}

/**
 * `image.resize((width, height), filter)` as Pillow 9.4 computes it, for an 8-bit image with
 * any number of channels (see the file comment for 2- and 4-channel images). Returns a new
 * image; the input is not modified.
 */
export function pilResize(image: RawImage, size: ResizeSize, options: PilResizeOptions = {}): RawImage {
  const kernel = kernelOf(options.filter ?? 'bicubic');
  const { width: inWidth, height: inHeight, channels, data } = image;
  const { width, height } = size;
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new RangeError(`resize target must be positive integers, got ${String(width)}x${String(height)}`);
  }
  if (data.length !== inWidth * inHeight * channels) {
    throw new RangeError(
      `image data has ${data.length} bytes, expected ${inWidth}x${inHeight}x${channels} = ${inWidth * inHeight * channels}`,
    );
  }
  if (width === inWidth && height === inHeight) {
    return { data: data.slice(), width, height, channels };
  }

  const needHorizontal = width !== inWidth;
  const needVertical = height !== inHeight;
  const vertical = precomputeCoefficients(inHeight, height, kernel);
  // Rows of the source that the vertical pass reads; the horizontal pass only computes those.
  const rowFirst = vertical.first[0] ?? 0;
  const rowLast = (vertical.first[height - 1] ?? 0) + (vertical.count[height - 1] ?? 0);

  let pixels = data;
  let rowShift = 0;
  if (needHorizontal) {
    const horizontal = precomputeCoefficients(inWidth, width, kernel);
    pixels = resampleHorizontal(data, inWidth, channels, rowFirst, rowLast - rowFirst, width, horizontal);
    rowShift = rowFirst;
  }
  if (needVertical) {
    pixels = resampleVertical(pixels, width, channels, height, vertical, rowShift);
  } else if (!needHorizontal) {
    pixels = data.slice();
  }
  return { data: pixels, width, height, channels };
}

/**
 * `image.resize((width, height), Image.BILINEAR)` as Pillow 9.4 computes it, for an 8-bit
 * image with any number of channels. Returns a new image; the input is not modified.
 */
export function pilResizeBilinear(image: RawImage, size: ResizeSize): RawImage {
  return pilResize(image, size, { filter: 'bilinear' });
}
