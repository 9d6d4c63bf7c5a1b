/**
 * Attractive (P-weighted) half of the t-SNE gradient over the sparse affinities, plus the parts
 * of KL(P || Q) that only need P's non-zeros. With Student-t (one degree of freedom) kernels
 * q_ij Z = 1 / (1 + |y_i - y_j|^2), the attractive force on i is sum_j p_ij q_ij Z (y_i - y_j),
 * as in sklearn's `compute_gradient_positive`.
 */

import { ATTRACTION_WASM } from './wasm/attraction.js';
import type { WasmInstance } from './wasm/instance.js';
import { instantiate, wasmAllowed } from './wasm/instance.js';

/** np.finfo(np.float32).tiny: sklearn clamps p and q with it inside the logarithm. */
export const FLOAT32_TINY = 1.1754943508222875e-38;

/** Per-chunk partial sums, in this order, at partials[chunk * PARTIALS + ...]. */
export const PARTIAL_SUM_Q = 0;
export const PARTIAL_P_LOG_QZ = 1;
export const PARTIALS = 2;

/**
 * Writes posF for the points order[from .. to) (or the rows from .. to when order is null).
 * When computeError is set, writes sum p log(q Z) to the chunk's partials: once Z is known,
 * KL = sum p log p - sum p log(qZ) + log(Z) sum p, which equals sklearn's
 * sum p log(max(p, tiny) / max(q, tiny)) since q never nears float32's tiny at these sizes.
 * sum p log p and sum p do not change between steps (pLogPAndSum, once per exaggeration):
 * computing them here doubled the logarithms of every error check.
 */
export function attractiveForces(
  y: Float64Array,
  rowPtr: Int32Array,
  colIdx: Int32Array,
  values: Float64Array,
  exaggeration: number,
  order: Int32Array | null,
  from: number,
  to: number,
  posF: Float64Array,
  computeError: boolean,
  partials: Float64Array,
  partialBase: number,
): void {
  let sumPLogQZ = 0;
  for (let at = from; at < to; at++) {
    const i = order === null ? at : (order[at] as number);
    const xi = y[2 * i] as number;
    const yi = y[2 * i + 1] as number;
    let fx = 0;
    let fy = 0;
    const end = rowPtr[i + 1] as number;
    if (computeError) {
      for (let e = rowPtr[i] as number; e < end; e++) {
        const j = colIdx[e] as number;
        const dx = xi - (y[2 * j] as number);
        const dy = yi - (y[2 * j + 1] as number);
        const qz = 1 / (1 + dx * dx + dy * dy);
        const p = (values[e] as number) * exaggeration;
        const pq = p * qz;
        fx += pq * dx;
        fy += pq * dy;
        sumPLogQZ += p * Math.log(qz);
      }
    } else {
      // Two non-zeros at a time into two pairs of sums: the divisions and the loads of y
      // overlap (10 % faster at 20,000 points).
      let gx = 0;
      let gy = 0;
      let e = rowPtr[i] as number;
      for (; e + 1 < end; e += 2) {
        const j = colIdx[e] as number;
        const l = colIdx[e + 1] as number;
        const dx = xi - (y[2 * j] as number);
        const dy = yi - (y[2 * j + 1] as number);
        const ex = xi - (y[2 * l] as number);
        const ey = yi - (y[2 * l + 1] as number);
        const pq = ((values[e] as number) * exaggeration) / (1 + dx * dx + dy * dy);
        const pr = ((values[e + 1] as number) * exaggeration) / (1 + ex * ex + ey * ey);
        fx += pq * dx;
        fy += pq * dy;
        gx += pr * ex;
        gy += pr * ey;
      }
      if (e < end) {
        const j = colIdx[e] as number;
        const dx = xi - (y[2 * j] as number);
        const dy = yi - (y[2 * j + 1] as number);
        const pq = ((values[e] as number) * exaggeration) / (1 + dx * dx + dy * dy);
        fx += pq * dx;
        fy += pq * dy;
      }
      fx += gx;
      fy += gy;
    }
    posF[2 * i] = fx;
    posF[2 * i + 1] = fy;
  }
  partials[partialBase + PARTIAL_P_LOG_QZ] = sumPLogQZ;
}

/** sum p log max(p, tiny) and sum p over P's non-zeros, p = value * exaggeration, in row order. */
export function pLogPAndSum(values: Float64Array, exaggeration: number): { pLogP: number; sumP: number } {
  let pLogP = 0;
  let sumP = 0;
  for (let e = 0; e < values.length; e++) {
    const p = (values[e] as number) * exaggeration;
    pLogP += p * Math.log(Math.max(p, FLOAT32_TINY));
    sumP += p;
  }
  return { pLogP, sumP };
}

/**
 * The steps without an error check run the force loop in WebAssembly (wasm/attraction.wat: two
 * non-zeros at a time in f64x2 lanes, the same operations in the same order as the loop above,
 * so the same bits): 1.6x faster (20,000 points: 6.2 -> 3.8 ms a step on one core). The module
 * cannot read the shared arrays, so each thread keeps a copy of P in its module's memory (made
 * when it first sees this P, `pKey`) and copies y in once per step (`step`): 12 bytes per
 * non-zero per thread (30 MB each at 20,000 points), released with releaseAttraction().
 */
interface AttractionCopy {
  instance: WasmInstance;
  pKey: number;
  step: number;
  n: number;
  yAt: number;
  rowPtrAt: number;
  colAt: number;
  valAt: number;
  outAt: number;
}
let copy: AttractionCopy | undefined;

/** Drops this thread's copy of P (the calling thread's outlives the run otherwise). */
export function releaseAttraction(): void {
  copy = undefined;
}

/**
 * attractiveForces without the error terms, for rows from .. to (order null), through the
 * WebAssembly module when there is one. `pKey` names this P (unique per optimisation in the
 * process) and `step` this y (it changes every step).
 */
export function attractiveForcesFast(
  y: Float64Array,
  rowPtr: Int32Array,
  colIdx: Int32Array,
  values: Float64Array,
  exaggeration: number,
  from: number,
  to: number,
  posF: Float64Array,
  pKey: number,
  step: number,
  partials: Float64Array,
  partialBase: number,
): void {
  const n = rowPtr.length - 1;
  if (copy === undefined || copy.pKey !== pKey) copy = wasmAllowed() ? copyOfP(rowPtr, colIdx, values, pKey) : undefined;
  if (copy === undefined) {
    attractiveForces(y, rowPtr, colIdx, values, exaggeration, null, from, to, posF, false, partials, partialBase);
    return;
  }
  const { instance } = copy;
  if (copy.step !== step) {
    new Float64Array(instance.memory.buffer, copy.yAt, 2 * n).set(y.subarray(0, 2 * n));
    copy.step = step;
  }
  const forces = instance.exports.forces as (
    y: number, rowPtr: number, col: number, val: number, out: number, from: number, to: number, exaggeration: number,
  ) => void;
  forces(copy.yAt, copy.rowPtrAt, copy.colAt, copy.valAt, copy.outAt, from, to, exaggeration);
  posF.set(new Float64Array(instance.memory.buffer, copy.outAt, 2 * (to - from)), 2 * from);
  partials[partialBase + PARTIAL_P_LOG_QZ] = 0;
}

function copyOfP(rowPtr: Int32Array, colIdx: Int32Array, values: Float64Array, pKey: number): AttractionCopy | undefined {
  const instance = instantiate(ATTRACTION_WASM);
  if (instance === undefined) return undefined;
  const n = rowPtr.length - 1;
  const nnz = colIdx.length;
  const align = (bytes: number): number => Math.ceil(bytes / 16) * 16;
  const yAt = 16;
  const rowPtrAt = align(yAt + 16 * n);
  const colAt = align(rowPtrAt + 4 * (n + 1));
  const valAt = align(colAt + 4 * nnz);
  const outAt = align(valAt + 8 * nnz);
  // Room for the output of any rows (a chunk is POINT_CHUNK rows, but n costs little).
  instance.reserve(outAt + 16 * n);
  const buffer = instance.memory.buffer;
  new Int32Array(buffer, rowPtrAt, n + 1).set(rowPtr);
  new Int32Array(buffer, colAt, nnz).set(colIdx);
  new Float64Array(buffer, valAt, nnz).set(values);
  return { instance, pKey, step: Number.NaN, n, yAt, rowPtrAt, colAt, valAt, outAt };
}
