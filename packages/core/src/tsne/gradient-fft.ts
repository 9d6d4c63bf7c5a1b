/**
 * FFT-accelerated interpolation of the repulsive forces (Linderman et al., FIt-SNE; the 2-D
 * scheme openTSNE uses). The embedding's bounding square is cut into boxes with `p` equispaced
 * Lagrange nodes per side; the nodes of all boxes form one uniform grid. Four charges per point
 * (1, x, y, x^2 + y^2) are spread onto the nodes, convolved with the kernel
 * K(d) = 1 / (1 + d^2)^2 by FFT (a Toeplitz sum is a circular convolution on a grid twice the
 * size), and read back at the points with the same weights. From the four potentials:
 *   negF_i = y_i phi1 - (phi2, phi3),
 *   sum_j q_ij Z = (1 + |y_i|^2) phi1 - 2 y_i . (phi2, phi3) + phi4 - 1   (the 1 is j = i),
 * because (q_ij Z)^2 = K and q_ij Z = (1 + |y_i - y_j|^2) K.
 *
 * The work is split into phases that worker threads share: rows forward (spread + kernel +
 * row FFTs), columns (column FFTs, multiply, inverse), rows inverse, and the per-point gather.
 * Coordinates are taken relative to the grid centre so that x^2 + y^2 stays small next to the
 * terms it cancels against.
 */
import { sharedFloat64, sharedInt32 } from './buffers.js';
import { fftOfSize } from './fft.js';

export interface FftSettings {
  /** Lagrange nodes per box side (FIt-SNE/openTSNE default 3). */
  interpolationPoints: number;
  /** Fewest boxes per side. */
  minBoxes: number;
  /** Widest box, in embedding units. */
  maxBoxWidth: number;
}

export const DEFAULT_FFT_SETTINGS: FftSettings = { interpolationPoints: 3, minBoxes: 40, maxBoxWidth: 1 };

/** Scalars of one step's grid (plain numbers: they travel to the workers in each task). */
export interface FftGridParams {
  p: number;
  nBoxes: number;
  /** Nodes per side, p * nBoxes. */
  m: number;
  /** FFT length per side: a power of two >= 2m - 1. */
  size: number;
  boxWidth: number;
  /** Lower corner of the grid and its centre. */
  x0: number;
  y0: number;
  cx: number;
  cy: number;
  /** False when the kernel spectrum in kRe is still the one for this spacing and size. */
  computeKernel: boolean;
}

/** Shared arrays of the FFT repulsion, reused across steps and grown when the grid grows. */
export interface FftBuffers {
  /** Box column and row of each point. */
  boxX: Int32Array;
  boxY: Int32Array;
  /** Points sorted by box row, and where each box row starts in that order. */
  rowOrder: Int32Array;
  rowStart: Int32Array;
  /** Kernel grid, then its spectrum (real, scaled by 1 / size^2); kIm is scratch. */
  kRe: Float64Array;
  kIm: Float64Array;
  /** Charges (1 | x) and (y | x^2 + y^2) as real | imaginary parts, then their potentials. */
  aRe: Float64Array;
  aIm: Float64Array;
  bRe: Float64Array;
  bIm: Float64Array;
  /** Which kernel kRe holds (calling thread only). */
  kernelKey: string;
}

/** Rows per chunk of the row phases: a whole number of box rows, so spreading never crosses chunks. */
export function rowsPerChunk(p: number): number {
  return 4 * p;
}

/** Columns per chunk of the column phase: eight doubles fill a cache line. */
export const COLUMNS_PER_CHUNK = 8;

export function createFftBuffers(n: number): FftBuffers {
  const empty = sharedFloat64(0);
  return {
    boxX: sharedInt32(n),
    boxY: sharedInt32(n),
    rowOrder: sharedInt32(n),
    rowStart: sharedInt32(1),
    kRe: empty,
    kIm: empty,
    aRe: empty,
    aIm: empty,
    bRe: empty,
    bIm: empty,
    kernelKey: '',
  };
}

export interface Bounds {
  minX: number;
  maxX: number;
  minY: number;
  maxY: number;
}

export function embeddingBounds(y: Float64Array, n: number): Bounds {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < n; i++) {
    const px = y[2 * i] as number;
    const py = y[2 * i + 1] as number;
    if (px < minX) minX = px;
    if (px > maxX) maxX = px;
    if (py < minY) minY = py;
    if (py > maxY) maxY = py;
  }
  return { minX, maxX, minY, maxY };
}

function extentOf(bounds: Bounds): number {
  return Math.max(bounds.maxX - bounds.minX, bounds.maxY - bounds.minY, 1e-12);
}

/** FFT length per side for an embedding with these bounds: grows with the extent, not with n. */
export function fftSizeFor(bounds: Bounds, settings: FftSettings): number {
  const p = settings.interpolationPoints;
  const needed = Math.max(settings.minBoxes, Math.ceil(extentOf(bounds) / settings.maxBoxWidth));
  let size = 2;
  while (size < 2 * p * needed - 1) size *= 2;
  return size;
}

/**
 * Chooses this step's grid from the embedding's extent, places every point in its box and sorts
 * the points by box row (counting sort, so the order is deterministic). Runs on the calling
 * thread: O(n).
 */
export function planFftGrid(
  y: Float64Array,
  n: number,
  bounds: Bounds,
  settings: FftSettings,
  buffers: FftBuffers,
): FftGridParams {
  const { minX, maxX, minY, maxY } = bounds;
  const p = settings.interpolationPoints;
  const extent = extentOf(bounds);
  const size = fftSizeFor(bounds, settings);
  // The power of two leaves room: use every box that still fits, for accuracy at no FFT cost.
  const nBoxes = Math.floor((size + 1) / (2 * p));
  const m = p * nBoxes;
  // Box width rounded up to a ladder of 2^(1/16) steps: a hair wider than needed, but the
  // kernel spectrum (a fifth of the FFT work) can be reused until the extent outgrows the rung.
  const rung = Math.ceil(16 * Math.log2((extent * (1 + 1e-9)) / nBoxes));
  const boxWidth = 2 ** (rung / 16);
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const x0 = cx - (nBoxes * boxWidth) / 2;
  const y0 = cy - (nBoxes * boxWidth) / 2;
  const kernelKey = `${p}:${size}:${rung}`;
  const computeKernel = kernelKey !== buffers.kernelKey || buffers.kRe.length < size * size;
  buffers.kernelKey = kernelKey;

  if (buffers.kRe.length < size * size) {
    buffers.kRe = sharedFloat64(size * size);
    buffers.kIm = sharedFloat64(size * size);
    buffers.aRe = sharedFloat64(size * size);
    buffers.aIm = sharedFloat64(size * size);
    buffers.bRe = sharedFloat64(size * size);
    buffers.bIm = sharedFloat64(size * size);
  }
  if (buffers.rowStart.length < nBoxes + 1) buffers.rowStart = sharedInt32(nBoxes + 1);
  const { boxX, boxY, rowOrder, rowStart } = buffers;
  rowStart.fill(0, 0, nBoxes + 1);
  for (let i = 0; i < n; i++) {
    const bx = Math.min(nBoxes - 1, Math.max(0, Math.floor(((y[2 * i] as number) - x0) / boxWidth)));
    const by = Math.min(nBoxes - 1, Math.max(0, Math.floor(((y[2 * i + 1] as number) - y0) / boxWidth)));
    boxX[i] = bx;
    boxY[i] = by;
    rowStart[by + 1] = (rowStart[by + 1] as number) + 1;
  }
  for (let b = 0; b < nBoxes; b++) rowStart[b + 1] = (rowStart[b + 1] as number) + (rowStart[b] as number);
  const fill = rowStart.slice(0, nBoxes);
  for (let i = 0; i < n; i++) {
    const by = boxY[i] as number;
    const at = fill[by] as number;
    fill[by] = at + 1;
    rowOrder[at] = i;
  }
  return { p, nBoxes, m, size, boxWidth, x0, y0, cx, cy, computeKernel };
}

const denominators = new Map<number, Float64Array>();

/** Lagrange basis on nodes (s + 0.5) / p of [0, 1], evaluated at u into out[0 .. p). */
function lagrangeWeights(u: number, p: number, out: Float64Array, offset: number): void {
  let denom = denominators.get(p);
  if (denom === undefined) {
    denom = new Float64Array(p);
    for (let s = 0; s < p; s++) {
      let d = 1;
      for (let r = 0; r < p; r++) if (r !== s) d *= (s - r) / p;
      denom[s] = d;
    }
    denominators.set(p, denom);
  }
  for (let s = 0; s < p; s++) {
    let w = 1;
    for (let r = 0; r < p; r++) if (r !== s) w *= u - (r + 0.5) / p;
    out[offset + s] = w / (denom[s] as number);
  }
}

/** Squared Cauchy kernel between grid nodes `di` rows and `dj` columns apart. */
function kernelAt(di: number, dj: number, spacing: number): number {
  const dx = di * spacing;
  const dy = dj * spacing;
  const k = 1 / (1 + dx * dx + dy * dy);
  return k * k;
}

/** Signed node offset of FFT index a, or NaN in the unused middle band. */
function offsetOf(a: number, m: number, size: number): number {
  if (a < m) return a;
  if (a > size - m) return a - size;
  return Number.NaN;
}

/**
 * Phase 1, rows [rowFrom, rowTo) (aligned to box rows): fills and transforms the kernel rows,
 * spreads the charges of the points in these box rows onto the grid and transforms those rows.
 */
export function fftRowsForward(
  grid: FftGridParams,
  buffers: FftBuffers,
  y: Float64Array,
  rowFrom: number,
  rowTo: number,
): void {
  const { p, m, size, nBoxes, boxWidth, x0, y0, cx, cy } = grid;
  const { kRe, kIm, aRe, aIm, bRe, bIm, boxX, boxY, rowOrder, rowStart } = buffers;
  const fft = fftOfSize(size);
  const spacing = boxWidth / p;
  if (grid.computeKernel) {
    // Kernel rows are real and even, so their spectra are real: rows r and r + 1 share one
    // complex transform (r as the real part, r + 1 as the imaginary part) and come out apart.
    for (let r = rowFrom; r < rowTo; r += 2) {
      const base = r * size;
      const di = offsetOf(r, m, size);
      const di2 = offsetOf(r + 1, m, size);
      for (let c = 0; c < size; c++) {
        const dj = offsetOf(c, m, size);
        kRe[base + c] = Number.isNaN(di) || Number.isNaN(dj) ? 0 : kernelAt(di, dj, spacing);
        kIm[base + c] = Number.isNaN(di2) || Number.isNaN(dj) ? 0 : kernelAt(di2, dj, spacing);
      }
      fft.forward(kRe, kIm, base);
      for (let c = 0; c < size; c++) kRe[base + size + c] = kIm[base + c] as number;
    }
  }
  for (let r = rowFrom; r < rowTo; r++) {
    const base = r * size;
    aRe.fill(0, base, base + size);
    aIm.fill(0, base, base + size);
    bRe.fill(0, base, base + size);
    bIm.fill(0, base, base + size);
  }
  const wx = new Float64Array(p);
  const wy = new Float64Array(p);
  const boxFrom = Math.min(nBoxes, rowFrom / p);
  const boxTo = Math.min(nBoxes, Math.ceil(rowTo / p));
  for (let at = rowStart[boxFrom] as number; at < (rowStart[boxTo] as number); at++) {
    const i = rowOrder[at] as number;
    const px = y[2 * i] as number;
    const py = y[2 * i + 1] as number;
    const bx = boxX[i] as number;
    const by = boxY[i] as number;
    lagrangeWeights((px - x0) / boxWidth - bx, p, wx, 0);
    lagrangeWeights((py - y0) / boxWidth - by, p, wy, 0);
    const xc = px - cx;
    const yc = py - cy;
    const r2 = xc * xc + yc * yc;
    for (let s = 0; s < p; s++) {
      const rowBase = (by * p + s) * size + bx * p;
      const ws = wy[s] as number;
      for (let t = 0; t < p; t++) {
        const w = ws * (wx[t] as number);
        const g = rowBase + t;
        aRe[g] = (aRe[g] as number) + w;
        aIm[g] = (aIm[g] as number) + w * xc;
        bRe[g] = (bRe[g] as number) + w * yc;
        bIm[g] = (bIm[g] as number) + w * r2;
      }
    }
  }
  for (let r = rowFrom; r < Math.min(rowTo, m); r++) {
    fft.forward(aRe, aIm, r * size);
    fft.forward(bRe, bIm, r * size);
  }
}

/**
 * Phase 2, columns [colFrom, colTo) (a multiple of COLUMNS_PER_CHUNK wide): finishes the
 * kernel's 2-D transform if needed, multiplies both charge spectra by it and transforms them
 * back along the columns. Columns are copied out a block at a time so that every cache line of
 * a grid row is used. The kernel is real and even, so its spectrum is real and two columns
 * share a transform; the inverse's 1 / size^2 is folded into it.
 */
export function fftColumns(grid: FftGridParams, buffers: FftBuffers, colFrom: number, colTo: number): void {
  const { m, size } = grid;
  const { kRe, aRe, aIm, bRe, bIm } = buffers;
  const fft = fftOfSize(size);
  const width = colTo - colFrom;
  const block = columnScratch(size);
  const { re, im, spectrum } = block;
  const scale = 1 / (size * size);
  // Kernel spectrum of the block's columns into spectrum[c * size + r].
  for (let r = 0; r < size; r++) {
    const g = r * size + colFrom;
    for (let c = 0; c < width; c++) spectrum[c * size + r] = kRe[g + c] as number;
  }
  if (grid.computeKernel) {
    for (let c = 0; c < width; c += 2) {
      const o = c * size;
      re.set(spectrum.subarray(o, o + size), 0);
      if (c + 1 < width) im.set(spectrum.subarray(o + size, o + 2 * size), 0);
      else im.fill(0, 0, size);
      fft.forward(re, im, 0);
      for (let r = 0; r < size; r++) spectrum[o + r] = (re[r] as number) * scale;
      if (c + 1 < width) for (let r = 0; r < size; r++) spectrum[o + size + r] = (im[r] as number) * scale;
    }
    for (let r = 0; r < size; r++) {
      const g = r * size + colFrom;
      for (let c = 0; c < width; c++) kRe[g + c] = spectrum[c * size + r] as number;
    }
  }
  for (let pass = 0; pass < 2; pass++) {
    const gRe = pass === 0 ? aRe : bRe;
    const gIm = pass === 0 ? aIm : bIm;
    for (let r = 0; r < size; r++) {
      const g = r * size + colFrom;
      for (let c = 0; c < width; c++) {
        re[c * size + r] = gRe[g + c] as number;
        im[c * size + r] = gIm[g + c] as number;
      }
    }
    for (let c = 0; c < width; c++) {
      const o = c * size;
      fft.forward(re, im, o);
      for (let r = 0; r < size; r++) {
        const sp = spectrum[o + r] as number;
        re[o + r] = (re[o + r] as number) * sp;
        im[o + r] = (im[o + r] as number) * sp;
      }
      fft.inverse(re, im, o);
    }
    // Only the first m rows hold nodes; the rest is padding.
    for (let r = 0; r < m; r++) {
      const g = r * size + colFrom;
      for (let c = 0; c < width; c++) {
        gRe[g + c] = re[c * size + r] as number;
        gIm[g + c] = im[c * size + r] as number;
      }
    }
  }
}

interface ColumnScratch {
  re: Float64Array;
  im: Float64Array;
  spectrum: Float64Array;
}
let scratch: ColumnScratch | undefined;
/** Per-thread buffers for one block of columns. */
function columnScratch(size: number): ColumnScratch {
  const length = COLUMNS_PER_CHUNK * size;
  if (scratch === undefined || scratch.re.length !== length) {
    scratch = { re: new Float64Array(length), im: new Float64Array(length), spectrum: new Float64Array(length) };
  }
  return scratch;
}

/** Phase 3, rows [rowFrom, rowTo) ∩ [0, m): inverse row transforms, leaving the potentials. */
export function fftRowsInverse(grid: FftGridParams, buffers: FftBuffers, rowFrom: number, rowTo: number): void {
  const { m, size } = grid;
  const fft = fftOfSize(size);
  for (let r = rowFrom; r < Math.min(rowTo, m); r++) {
    fft.inverse(buffers.aRe, buffers.aIm, r * size);
    fft.inverse(buffers.bRe, buffers.bIm, r * size);
  }
}

/**
 * Phase 4, points [from, to): interpolates the four potentials at each point, writes negF and
 * returns the points' share of Z = sum_{i != j} q_ij Z.
 */
export function fftRepulsion(
  grid: FftGridParams,
  buffers: FftBuffers,
  y: Float64Array,
  from: number,
  to: number,
  negF: Float64Array,
): number {
  const { p, size, boxWidth, x0, y0, cx, cy } = grid;
  const { aRe, aIm, bRe, bIm, boxX, boxY } = buffers;
  const wx = new Float64Array(p);
  const wy = new Float64Array(p);
  let sumQ = 0;
  for (let i = from; i < to; i++) {
    const px = y[2 * i] as number;
    const py = y[2 * i + 1] as number;
    const bx = boxX[i] as number;
    const by = boxY[i] as number;
    lagrangeWeights((px - x0) / boxWidth - bx, p, wx, 0);
    lagrangeWeights((py - y0) / boxWidth - by, p, wy, 0);
    let phi1 = 0;
    let phi2 = 0;
    let phi3 = 0;
    let phi4 = 0;
    for (let s = 0; s < p; s++) {
      const rowBase = (by * p + s) * size + bx * p;
      const ws = wy[s] as number;
      for (let t = 0; t < p; t++) {
        const w = ws * (wx[t] as number);
        const g = rowBase + t;
        phi1 += w * (aRe[g] as number);
        phi2 += w * (aIm[g] as number);
        phi3 += w * (bRe[g] as number);
        phi4 += w * (bIm[g] as number);
      }
    }
    const xc = px - cx;
    const yc = py - cy;
    negF[2 * i] = xc * phi1 - phi2;
    negF[2 * i + 1] = yc * phi1 - phi3;
    sumQ += (1 + xc * xc + yc * yc) * phi1 - 2 * (xc * phi2 + yc * phi3) + phi4 - 1;
  }
  return sumQ;
}
