/**
 * Joint probabilities from the k-nearest-neighbour conditional probabilities, as sklearn's
 * `_joint_probabilities_nn`: P = (C + C^T) / sum(C + C^T), kept sparse (CSR) because each row
 * only has its neighbours and the points that have it as a neighbour.
 */
import { sharedFloat64, sharedInt32 } from './buffers.js';

/** sklearn's MACHINE_EPSILON (float64 eps), the floor of the normaliser. */
const MACHINE_EPSILON = 2.220446049250313e-16;

/** Symmetric n x n matrix in CSR form; columns of a row are in a fixed but unsorted order. */
export interface SparseAffinities {
  n: number;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float64Array;
}

/**
 * `neighbors` and `conditional` are n x k (row i: the neighbours of i and p_{j|i}). Rows list
 * the forward neighbours first, in neighbour order, then the reverse-only ones in ascending
 * source order, so the result is identical however the neighbours were computed in parallel.
 * Arrays are allocated on SharedArrayBuffer so that gradient workers can read them.
 */
export function jointProbabilities(
  neighbors: Int32Array,
  conditional: Float64Array,
  n: number,
  k: number,
): SparseAffinities {
  if (neighbors.length !== n * k || conditional.length !== n * k) {
    throw new RangeError(
      `neighbors (${neighbors.length}) and conditional (${conditional.length}) must both hold n * k = ${n * k} values`,
    );
  }
  // Reverse lists: for each j the points i that have j as a neighbour, in ascending i.
  const revPtr = new Int32Array(n + 1);
  for (let e = 0; e < n * k; e++) {
    const j = (neighbors[e] as number) + 1;
    revPtr[j] = (revPtr[j] as number) + 1;
  }
  for (let j = 0; j < n; j++) revPtr[j + 1] = (revPtr[j + 1] as number) + (revPtr[j] as number);
  const revSrc = new Int32Array(n * k);
  const revVal = new Float64Array(n * k);
  const fill = revPtr.slice(0, n);
  for (let i = 0; i < n; i++) {
    for (let t = 0; t < k; t++) {
      const j = neighbors[i * k + t] as number;
      const at = fill[j] as number;
      fill[j] = at + 1;
      revSrc[at] = i;
      revVal[at] = conditional[i * k + t] as number;
    }
  }

  // position[j] = slot of column j in the row being built, or -1: turns the union of the
  // forward and reverse lists into one pass without sorting.
  const position = new Int32Array(n).fill(-1);
  const rowPtr = sharedInt32(n + 1);
  for (let i = 0; i < n; i++) {
    let length = k;
    for (let t = 0; t < k; t++) position[neighbors[i * k + t] as number] = 0;
    for (let e = revPtr[i] as number; e < (revPtr[i + 1] as number); e++) {
      if (position[revSrc[e] as number] === -1) length++;
    }
    for (let t = 0; t < k; t++) position[neighbors[i * k + t] as number] = -1;
    rowPtr[i + 1] = (rowPtr[i] as number) + length;
  }

  const nnz = rowPtr[n] as number;
  const colIdx = sharedInt32(nnz);
  const values = sharedFloat64(nnz);
  let total = 0;
  for (let i = 0; i < n; i++) {
    const start = rowPtr[i] as number;
    let at = start;
    for (let t = 0; t < k; t++) {
      const j = neighbors[i * k + t] as number;
      position[j] = at;
      colIdx[at] = j;
      values[at] = conditional[i * k + t] as number;
      at++;
    }
    for (let e = revPtr[i] as number; e < (revPtr[i + 1] as number); e++) {
      const j = revSrc[e] as number;
      const slot = position[j] as number;
      if (slot === -1) {
        position[j] = at;
        colIdx[at] = j;
        values[at] = revVal[e] as number;
        at++;
      } else {
        values[slot] = (values[slot] as number) + (revVal[e] as number);
      }
    }
    for (let e = start; e < at; e++) {
      position[colIdx[e] as number] = -1;
      total += values[e] as number;
    }
  }
  const sum = Math.max(total, MACHINE_EPSILON);
  for (let e = 0; e < nnz; e++) values[e] = (values[e] as number) / sum;
  return { n, rowPtr, colIdx, values };
}
