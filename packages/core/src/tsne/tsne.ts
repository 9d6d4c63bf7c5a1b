/**
 * t-SNE of n points in `dim` dimensions to 2-D, following scikit-learn 1.2's TSNE(method=
 * 'barnes_hut') step for step: k = min(n - 1, 3 perplexity + 1) nearest neighbours, per-point
 * perplexity calibration, P = (C + C^T) / 2n, PCA initialisation, the exaggeration schedule and
 * gains of `_gradient_descent`. The repulsive forces are exact, Barnes-Hut, FFT-interpolated or
 * a per-step mix of the last two; all use the same sparse P, so they differ only in how
 * accurately they approximate sum_j q_ij^2 Z (y_i - y_j) and Z.
 */
import { createRandom } from '../random.js';
import { jointProbabilities } from './affinities.js';
import { sharedFloat32, sharedFloat64, sharedInt32, toSharedFloat32 } from './buffers.js';
import { createExecutor, defaultThreads } from './executor.js';
import { DEFAULT_FFT_SETTINGS } from './gradient-fft.js';
import type { Executor } from './executor.js';
import { pcaInit, randomInit } from './init.js';
import { chooseNeighborMethod, nearestNeighbors, type NeighborGraph } from './neighbors.js';
import { chooseMethod } from './method.js';
import { optimize } from './optimize.js';
import type { TsneOptions, TsneResult } from './types.js';

/** Below this many points worker start-up costs more than it saves. */
export const PARALLEL_MIN_N = 1500;

/** Number of neighbours sklearn uses for a perplexity: min(n - 1, floor(3 perplexity + 1)). */
export function neighborCount(n: number, perplexity: number): number {
  return Math.min(n - 1, Math.floor(3 * perplexity + 1));
}

/** The neighbour graph with points renamed to their position in `order`, rows in that order. */
function localGraph(graph: NeighborGraph, order: Int32Array, n: number, k: number): NeighborGraph {
  const rank = new Int32Array(n);
  for (let at = 0; at < n; at++) rank[order[at] as number] = at;
  const indices = sharedInt32(n * k);
  const sqDistances = sharedFloat32(n * k);
  for (let at = 0; at < n; at++) {
    const row = (order[at] as number) * k;
    for (let t = 0; t < k; t++) {
      const j = graph.indices[row + t] as number;
      indices[at * k + t] = j < 0 ? j : (rank[j] as number);
      sqDistances[at * k + t] = graph.sqDistances[row + t] as number;
    }
  }
  return { k, indices, sqDistances };
}

export async function tsne(data: Float32Array, n: number, dim: number, options: TsneOptions = {}): Promise<TsneResult> {
  const started = performance.now();
  if (!(data instanceof Float32Array)) throw new TypeError(`data must be a Float32Array, got ${typeof data}`);
  if (!Number.isInteger(n) || n < 2) throw new RangeError(`n must be an integer >= 2, got ${n}`);
  if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`dim must be a positive integer, got ${dim}`);
  if (data.length !== n * dim) throw new RangeError(`data has ${data.length} values, expected n * dim = ${n * dim}`);
  for (let e = 0; e < data.length; e++) {
    if (!Number.isFinite(data[e] as number)) throw new RangeError(`data[${e}] is ${data[e]}, expected a finite number`);
  }
  const perplexity = options.perplexity ?? 30;
  if (!(perplexity > 0) || perplexity >= n) throw new RangeError(`perplexity must be in (0, n = ${n}), got ${perplexity}`);
  const iterations = options.iterations ?? 1000;
  if (!Number.isInteger(iterations) || iterations < 1) throw new RangeError(`iterations must be a positive integer, got ${iterations}`);
  const earlyExaggeration = options.earlyExaggeration ?? 12;
  if (!(earlyExaggeration > 0)) throw new RangeError(`earlyExaggeration must be > 0, got ${earlyExaggeration}`);
  const exaggerationIterations = options.exaggerationIterations ?? 250;
  if (!Number.isInteger(exaggerationIterations) || exaggerationIterations < 0) {
    throw new RangeError(`exaggerationIterations must be an integer >= 0, got ${exaggerationIterations}`);
  }
  const theta = options.theta ?? 0.5;
  if (!(theta >= 0)) throw new RangeError(`theta must be >= 0, got ${theta}`);
  const learningRateOption = options.learningRate ?? 'auto';
  const learningRate = learningRateOption === 'auto' ? Math.max(n / earlyExaggeration / 4, 50) : learningRateOption;
  if (!(learningRate > 0)) throw new RangeError(`learningRate must be > 0 or 'auto', got ${learningRateOption}`);
  const requestedMethod = options.method ?? 'auto';
  if (!['auto', 'exact', 'bh', 'fft', 'hybrid'].includes(requestedMethod)) {
    throw new RangeError(`method must be 'auto', 'exact', 'bh', 'fft' or 'hybrid', got ${String(requestedMethod)}`);
  }
  const requestedNeighbors = options.neighbors ?? 'auto';
  if (!['auto', 'exact', 'approx'].includes(requestedNeighbors)) {
    throw new RangeError(`neighbors must be 'auto', 'exact' or 'approx', got ${String(requestedNeighbors)}`);
  }
  const init = options.init ?? 'pca';
  if (init instanceof Float32Array) {
    if (init.length !== 2 * n) throw new RangeError(`init has ${init.length} values, expected n * 2 = ${2 * n}`);
  } else if (init !== 'pca' && init !== 'random') {
    throw new RangeError(`init must be 'pca', 'random' or a Float32Array, got ${String(init)}`);
  }
  const threads = options.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) throw new RangeError(`threads must be a positive integer, got ${threads}`);
  const fft = { ...DEFAULT_FFT_SETTINGS, ...options.fft };
  if (!Number.isInteger(fft.interpolationPoints) || fft.interpolationPoints < 1 || fft.interpolationPoints > 8) {
    throw new RangeError(`fft.interpolationPoints must be an integer in [1, 8], got ${fft.interpolationPoints}`);
  }
  if (!(fft.minBoxes >= 1) || !(fft.maxBoxWidth > 0)) {
    throw new RangeError(`fft.minBoxes must be >= 1 and fft.maxBoxWidth > 0, got ${fft.minBoxes} and ${fft.maxBoxWidth}`);
  }
  const { signal, onProgress } = options;
  const random = options.random ?? createRandom(options.seed ?? 0);
  signal?.throwIfAborted();

  const method = chooseMethod(n, requestedMethod);
  const k = neighborCount(n, perplexity);
  const neighborMethod = chooseNeighborMethod(n, dim, requestedNeighbors);
  const executor: Executor = createExecutor(n >= PARALLEL_MIN_N ? threads : 1);
  try {
    onProgress?.({ phase: 'neighbors', iteration: 0, total: n });
    const shared = executor.threads > 1 ? toSharedFloat32(data) : data;
    const found = await nearestNeighbors(executor, shared, n, dim, k, neighborMethod, random, signal);
    // Large inputs are optimised in the neighbour search's locality order (row at is input
    // point order[at]): a point's neighbours are then near it in y, which the attractive
    // forces read for every non-zero of P. The map is put back in input order at the end.
    const order = found.order;
    const graph = order === undefined ? found : localGraph(found, order, n, k);
    const neighborsDone = performance.now();

    onProgress?.({ phase: 'affinities', iteration: 0, total: n });
    const conditional = sharedFloat64(n * k);
    await executor.run({ kind: 'perplexity', sqDist: graph.sqDistances, n, k, perplexity, out: conditional }, signal);
    const p = jointProbabilities(graph.indices, conditional, n, k);
    const affinitiesDone = performance.now();

    onProgress?.({ phase: 'init', iteration: 0, total: iterations });
    const y = sharedFloat64(2 * n);
    const start = init instanceof Float32Array ? Float64Array.from(init) : init === 'pca' ? await pcaInit(shared, n, dim, random, executor) : randomInit(n, random);
    if (order === undefined) y.set(start);
    else for (let at = 0; at < n; at++) [y[2 * at], y[2 * at + 1]] = [start[2 * (order[at] as number)] as number, start[2 * (order[at] as number) + 1] as number];
    signal?.throwIfAborted();

    const result = await optimize(executor, p, y, {
      method,
      iterations,
      exaggerationIterations,
      earlyExaggeration,
      learningRate,
      theta,
      fft,
      signal,
      onProgress,
    });
    const finished = performance.now();
    const embedding = new Float32Array(2 * n);
    if (order === undefined) embedding.set(y);
    else for (let at = 0; at < n; at++) [embedding[2 * (order[at] as number)], embedding[2 * (order[at] as number) + 1]] = [y[2 * at] as number, y[2 * at + 1] as number];
    return {
      embedding,
      klDivergence: result.klDivergence,
      iterations: result.lastIteration + 1,
      method,
      steps: result.steps,
      neighbors: neighborMethod,
      timings: {
        neighbors: (neighborsDone - started) / 1000,
        affinities: (affinitiesDone - neighborsDone) / 1000,
        optimization: (finished - affinitiesDone) / 1000,
        total: (finished - started) / 1000,
      },
    };
  } finally {
    await executor.close();
  }
}
