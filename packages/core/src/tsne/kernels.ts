/**
 * The parallel work of the engine as tasks over fixed-size chunks. A task is plain data (numbers
 * and typed arrays on SharedArrayBuffer), so it can be posted to a worker; `runChunk` executes
 * one chunk of it on whichever thread grabbed that chunk. Chunk boundaries never depend on the
 * thread count and every chunk writes its own outputs (or its own slot of `partials`), which
 * makes results bit-identical for any number of threads.
 */
import { attractiveForces, attractiveForcesFast, PARTIAL_SUM_Q, PARTIALS } from './gradient-attractive.js';
import { barnesHutRepulsion } from './gradient-bh.js';
import { exactRepulsion } from './gradient-exact.js';
import type { FftBuffers, FftGridParams } from './gradient-fft.js';
import {
  COLUMNS_PER_CHUNK,
  fftColumns,
  fftRepulsion,
  fftRowsForward,
  fftRowsInverse,
  rowsPerChunk,
} from './gradient-fft.js';
import { candidateKnnRows, exactKnnRows } from './knn-exact.js';
import { forestCandidatesRows, refineRows, buildRpTree } from './knn-approx.js';
import { binarySearchPerplexityRows } from './perplexity.js';
import { PCA_CHUNK, pcaPassChunk, type PcaPassTask } from './init.js';
import { DESCENT_CHUNK, descentChunk, type DescentTask } from './descent.js';
import type { QuadTreeArrays } from './quadtree.js';

/** Points per chunk of the per-point tasks. */
export const POINT_CHUNK = 256;
/** Query rows per chunk of the neighbour searches (long enough to amortise a grab). */
export const KNN_CHUNK = 64;

/** Slots of GradientTask.stepParams. */
export const STEP_EXAGGERATION = 0;
/** 1 when the step also computes the KL divergence's terms. */
export const STEP_COMPUTE_ERROR = 1;
/** Index of the step: names y for the threads' copies of it. */
export const STEP_INDEX = 2;
/** The quadtree's node and group counts (Barnes-Hut steps). */
export const STEP_TREE_NODES = 3;
export const STEP_TREE_GROUPS = 4;
export const STEP_PARAMS = 5;

export interface GradientTask {
  kind: 'gradient';
  /**
   * Both halves per chunk, or one: Barnes-Hut runs the attraction (by rows) on the workers
   * while the calling thread builds the tree, then the repulsion (in tree order).
   */
  parts: 'all' | 'attraction' | 'repulsion';
  n: number;
  y: Float64Array;
  rowPtr: Int32Array;
  colIdx: Int32Array;
  values: Float64Array;
  /**
   * What changes from step to step, in shared memory so that a prepared task can be run again
   * (executor.ts): see the STEP_* slots.
   */
  stepParams: Float64Array;
  /** Names P (unique per optimisation in the process), for the threads' copies of it. */
  pKey: number;
  posF: Float64Array;
  negF: Float64Array;
  /** PARTIALS values per chunk. */
  partials: Float64Array;
  repulsion:
    | { method: 'none' }
    | { method: 'exact' }
    | { method: 'bh'; theta: number; tree: Omit<QuadTreeArrays, 'nodeCount' | 'groupCount'> }
    | { method: 'fft'; grid: FftGridParams; buffers: FftBuffers };
}

export interface FftPhaseTask {
  kind: 'fft-rows-forward' | 'fft-columns' | 'fft-rows-inverse';
  y: Float64Array;
  grid: FftGridParams;
  buffers: FftBuffers;
}

export interface KnnExactTask {
  kind: 'knn-exact';
  data: Float32Array;
  n: number;
  dim: number;
  k: number;
  /** Only these query rows (one chunk each), instead of all n. */
  rows?: Int32Array;
  outIdx: Int32Array;
  outSqDist: Float32Array;
}

/** Exact lists from candidate sets (knn-products.ts); rows the bound cannot settle are flagged. */
export interface KnnCandidatesTask {
  kind: 'knn-candidates';
  data: Float32Array;
  n: number;
  dim: number;
  k: number;
  count: number;
  candidates: Int32Array;
  outsideBound: Float64Array;
  outIdx: Int32Array;
  outSqDist: Float32Array;
  failed: Uint8Array;
}

export interface PerplexityTask {
  kind: 'perplexity';
  sqDist: Float32Array;
  n: number;
  k: number;
  perplexity: number;
  out: Float64Array;
}

export interface RpTreeTask {
  kind: 'rp-trees';
  data: Float32Array;
  n: number;
  dim: number;
  leafSize: number;
  /** One seed per tree: trees are random but independent of the thread that builds them. */
  seeds: Int32Array;
  /** Tree t's point order at perm[t * n ...], and each point's position there at where[t * n + i]. */
  perm: Int32Array;
  where: Int32Array;
}

export interface ForestCandidatesTask {
  kind: 'knn-forest';
  data: Float32Array;
  n: number;
  dim: number;
  k: number;
  trees: number;
  /** leafBoundaries(n, leafSize): the same leaf segments in every tree. */
  leafBounds: Int32Array;
  perm: Int32Array;
  where: Int32Array;
  outIdx: Int32Array;
  outSqDist: Float32Array;
}

export interface RefineTask {
  kind: 'knn-refine';
  data: Float32Array;
  n: number;
  dim: number;
  k: number;
  /** Neighbours explored per list. */
  breadth: number;
  inIdx: Int32Array;
  inSqDist: Float32Array;
  /** 1 where the entry arrived in the previous round (only pairs with a new end are explored). */
  inNew: Uint8Array;
  /** Reverse lists (who has the point among its first `breadth`), with their entries' flags. */
  revPtr: Int32Array;
  revIdx: Int32Array;
  revNew: Uint8Array;
  outIdx: Int32Array;
  outSqDist: Float32Array;
  outNew: Uint8Array;
  /** Per chunk: how many list entries changed. */
  changes: Int32Array;
}

export type KernelTask =
  | GradientTask
  | FftPhaseTask
  | KnnExactTask
  | KnnCandidatesTask
  | PcaPassTask
  | DescentTask
  | PerplexityTask
  | RpTreeTask
  | ForestCandidatesTask
  | RefineTask;

/** Number of chunks a task splits into. */
export function chunkCount(task: KernelTask): number {
  switch (task.kind) {
    case 'gradient':
    case 'perplexity':
      return Math.ceil(task.n / POINT_CHUNK);
    case 'knn-exact':
      return task.rows === undefined ? Math.ceil(task.n / KNN_CHUNK) : task.rows.length;
    case 'knn-candidates':
    case 'knn-forest':
    case 'knn-refine':
      return Math.ceil(task.n / KNN_CHUNK);
    case 'rp-trees':
      return task.seeds.length;
    case 'pca-pass':
      return Math.ceil(task.n / PCA_CHUNK);
    case 'descent':
      return Math.ceil(task.n / DESCENT_CHUNK);
    case 'fft-rows-forward':
      return Math.ceil(task.grid.size / rowsPerChunk(task.grid.p));
    case 'fft-rows-inverse':
      return Math.ceil(task.grid.m / rowsPerChunk(task.grid.p));
    case 'fft-columns':
      return Math.ceil(task.grid.size / COLUMNS_PER_CHUNK);
    default:
      throw new TypeError(`unknown kernel task ${(task as { kind: string }).kind}`);
  }
}

export function runChunk(task: KernelTask, chunk: number): void {
  switch (task.kind) {
    case 'gradient':
      return gradientChunk(task, chunk);
    case 'perplexity': {
      const from = chunk * POINT_CHUNK;
      binarySearchPerplexityRows(task.sqDist, task.n, task.k, task.perplexity, task.out, from, Math.min(task.n, from + POINT_CHUNK));
      return;
    }
    case 'knn-exact': {
      const from = task.rows === undefined ? chunk * KNN_CHUNK : (task.rows[chunk] as number);
      const to = task.rows === undefined ? Math.min(task.n, from + KNN_CHUNK) : from + 1;
      exactKnnRows(task.data, task.n, task.dim, task.k, from, to, task.outIdx, task.outSqDist);
      return;
    }
    case 'knn-candidates': {
      const from = chunk * KNN_CHUNK;
      const to = Math.min(task.n, from + KNN_CHUNK);
      candidateKnnRows(task.data, task.dim, task.k, task.count, task.candidates, task.outsideBound, from, to, task.outIdx, task.outSqDist, task.failed);
      return;
    }
    case 'knn-forest': {
      const from = chunk * KNN_CHUNK;
      forestCandidatesRows(task, from, Math.min(task.n, from + KNN_CHUNK));
      return;
    }
    case 'knn-refine': {
      const from = chunk * KNN_CHUNK;
      task.changes[chunk] = refineRows(task, from, Math.min(task.n, from + KNN_CHUNK));
      return;
    }
    case 'pca-pass':
      return pcaPassChunk(task, chunk);
    case 'descent':
      return descentChunk(task, chunk);
    case 'rp-trees': {
      const { n } = task;
      const perm = task.perm.subarray(chunk * n, (chunk + 1) * n);
      buildRpTree(task.data, n, task.dim, task.leafSize, task.seeds[chunk] as number, perm);
      for (let pos = 0; pos < n; pos++) task.where[chunk * n + (perm[pos] as number)] = pos;
      return;
    }
    case 'fft-rows-forward': {
      const rows = rowsPerChunk(task.grid.p);
      fftRowsForward(task.grid, task.buffers, task.y, chunk * rows, Math.min(task.grid.size, (chunk + 1) * rows));
      return;
    }
    case 'fft-columns':
      fftColumns(task.grid, task.buffers, chunk * COLUMNS_PER_CHUNK, Math.min(task.grid.size, (chunk + 1) * COLUMNS_PER_CHUNK));
      return;
    case 'fft-rows-inverse': {
      const rows = rowsPerChunk(task.grid.p);
      fftRowsInverse(task.grid, task.buffers, chunk * rows, (chunk + 1) * rows);
      return;
    }
    default:
      throw new TypeError(`unknown kernel task ${(task as { kind: string }).kind}`);
  }
}

function gradientChunk(task: GradientTask, chunk: number): void {
  const from = chunk * POINT_CHUNK;
  const to = Math.min(task.n, from + POINT_CHUNK);
  const base = chunk * PARTIALS;
  const rep = task.repulsion;
  const params = task.stepParams;
  const exaggeration = params[STEP_EXAGGERATION] as number;
  const computeError = params[STEP_COMPUTE_ERROR] === 1;
  let order: Int32Array | null = null;
  if (task.parts !== 'attraction') {
    let sumQ: number;
    switch (rep.method) {
      case 'exact':
        sumQ = exactRepulsion(task.y, task.n, from, to, task.negF);
        break;
      case 'bh':
        // Chunks follow the tree order: neighbouring points walk the same cells.
        order = rep.tree.order;
        sumQ = barnesHutRepulsion(
          task.y,
          { ...rep.tree, nodeCount: params[STEP_TREE_NODES] as number, groupCount: params[STEP_TREE_GROUPS] as number },
          rep.theta,
          from,
          to,
          task.negF,
        );
        break;
      case 'fft':
        sumQ = fftRepulsion(rep.grid, rep.buffers, task.y, from, to, task.negF);
        break;
      case 'none':
        throw new TypeError('a gradient task with repulsion needs a repulsion method');
      default:
        throw new TypeError(`unknown repulsion method ${(rep as { method: string }).method}`);
    }
    task.partials[base + PARTIAL_SUM_Q] = sumQ;
  }
  if (task.parts !== 'repulsion') {
    if (!computeError && order === null) {
      const step = params[STEP_INDEX] as number;
      attractiveForcesFast(task.y, task.rowPtr, task.colIdx, task.values, exaggeration, from, to, task.posF, task.pKey, step, task.partials, base);
    } else {
      attractiveForces(
        task.y,
        task.rowPtr,
        task.colIdx,
        task.values,
        exaggeration,
        order,
        from,
        to,
        task.posF,
        computeError,
        task.partials,
        base,
      );
    }
  }
}
