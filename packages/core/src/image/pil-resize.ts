/**
 * Pillow's BILINEAR resampling, ported from libImaging/Resample.c (Pillow 9.4), so that a
 * resize gives the same bytes as `img.resize((w, h), Image.BILINEAR)`, which is what
 * torchvision's `Resize` calls on a PIL image.
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

function bilinearFilter(x: number): number {
  if (x < 0.0) x = -x;
  if (x < 1.0) return 1.0 - x;
  return 0.0;
}

/** precompute_coeffs + normalize_coeffs_8bpc, for box [0, inSize) and the BILINEAR filter (support 1). */
function precomputeCoefficients(inSize: number, outSize: number): AxisCoefficients {
  const scale = inSize / outSize;
  const filterscale = scale < 1.0 ? 1.0 : scale;
  const support = 1.0 * filterscale;
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
      const w = bilinearFilter((x + xmin - center + 0.5) * ss);
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
  for (let yy = 0; yy < rows; yy++) {
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

/**
 * `image.resize((width, height), Image.BILINEAR)` as Pillow 9.4 computes it, for an 8-bit
 * image with any number of channels. Returns a new image; the input is not modified.
 */
export function pilResizeBilinear(image: RawImage, size: ResizeSize): RawImage {
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
  const vertical = precomputeCoefficients(inHeight, height);
  // Rows of the source that the vertical pass reads; the horizontal pass only computes those.
  const rowFirst = vertical.first[0] ?? 0;
  const rowLast = (vertical.first[height - 1] ?? 0) + (vertical.count[height - 1] ?? 0);

  let pixels = data;
  let rowShift = 0;
  if (needHorizontal) {
    const horizontal = precomputeCoefficients(inWidth, width);
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
