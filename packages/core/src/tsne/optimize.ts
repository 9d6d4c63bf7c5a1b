/**
 * Gradient descent on KL(P || Q) exactly as sklearn 1.2's `_gradient_descent` drives it:
 * per-coordinate gains (+0.2 when the gradient's sign flips relative to the last update,
 * x0.8 otherwise, floored at 0.01), momentum, the error and the gradient norm checked every 50
 * steps (stop when the norm is <= 1e-7 or the error has not improved for n steps), and the
 * two-phase schedule of `_tsne`: early exaggeration with momentum 0.5, then momentum 0.8, with
 * fresh gains and updates for the second phase.
 */
import { sharedFloat64 } from './buffers.js';
import type { Executor } from './executor.js';
import { PARTIAL_P, PARTIAL_P_LOG_P, PARTIAL_P_LOG_QZ, PARTIAL_SUM_Q, PARTIALS } from './gradient-attractive.js';
import type { FftBuffers, FftSettings } from './gradient-fft.js';
import { createFftBuffers, DEFAULT_FFT_SETTINGS, embeddingBounds, fftSizeFor, planFftGrid } from './gradient-fft.js';
import type { GradientTask } from './kernels.js';
import { POINT_CHUNK } from './kernels.js';
import type { SparseAffinities } from './affinities.js';
import { fftCheaper } from './method.js';
import { QuadTree } from './quadtree.js';
import type { TsneMethod, TsneProgress } from './types.js';

const N_ITER_CHECK = 50;
const MIN_GAIN = 0.01;
const MIN_GRAD_NORM = 1e-7;
const N_ITER_WITHOUT_PROGRESS = 300;

export interface OptimizeSettings {
  method: TsneMethod;
  iterations: number;
  exaggerationIterations: number;
  earlyExaggeration: number;
  learningRate: number;
  theta: number;
  fft?: FftSettings;
  signal?: AbortSignal;
  onProgress?: (progress: TsneProgress) => void;
}

/**
 * One gradient evaluation: writes the KL gradient into `grad` (the factor 4 included, as
 * sklearn multiplies by 2 (dof + 1) / dof) and returns KL(P || Q) when asked, else NaN.
 */
export class GradientEvaluator {
  readonly posF: Float64Array;
  readonly negF: Float64Array;
  /** Steps computed by each method so far. */
  readonly steps = { exact: 0, bh: 0, fft: 0 };
  private readonly partials: Float64Array;
  private readonly tree: QuadTree | undefined;
  private readonly fftBuffers: FftBuffers | undefined;

  constructor(
    private readonly executor: Executor,
    private readonly p: SparseAffinities,
    private readonly y: Float64Array,
    private readonly method: TsneMethod,
    private readonly theta: number,
    private readonly fft: FftSettings = DEFAULT_FFT_SETTINGS,
  ) {
    const n = p.n;
    this.posF = sharedFloat64(2 * n);
    this.negF = sharedFloat64(2 * n);
    this.partials = sharedFloat64(Math.ceil(n / POINT_CHUNK) * PARTIALS);
    this.tree = method === 'bh' || method === 'hybrid' ? new QuadTree(n) : undefined;
    this.fftBuffers = method === 'fft' || method === 'hybrid' ? createFftBuffers(n) : undefined;
  }

  async evaluate(exaggeration: number, computeError: boolean, grad: Float64Array, signal?: AbortSignal): Promise<number> {
    const { executor, p, y } = this;
    const n = p.n;
    let repulsion: GradientTask['repulsion'];
    let method = this.method;
    const bounds = method === 'fft' || method === 'hybrid' ? embeddingBounds(y, n) : undefined;
    if (method === 'hybrid') {
      method = fftCheaper(fftSizeFor(bounds as NonNullable<typeof bounds>, this.fft), n) ? 'fft' : 'bh';
    }
    switch (method) {
      case 'exact':
        repulsion = { method: 'exact' };
        break;
      case 'bh': {
        const tree = this.tree as QuadTree;
        tree.build(y);
        repulsion = {
          method: 'bh',
          theta: this.theta,
          tree: {
            nodeCount: tree.nodeCount,
            comX: tree.comX,
            comY: tree.comY,
            size: tree.size,
            widthSq: tree.widthSq,
            skip: tree.skip,
            order: tree.order,
          },
        };
        break;
      }
      case 'fft': {
        const buffers = this.fftBuffers as FftBuffers;
        const grid = planFftGrid(y, n, bounds as NonNullable<typeof bounds>, this.fft, buffers);
        await executor.run({ kind: 'fft-rows-forward', y, grid, buffers }, signal);
        await executor.run({ kind: 'fft-columns', y, grid, buffers }, signal);
        await executor.run({ kind: 'fft-rows-inverse', y, grid, buffers }, signal);
        repulsion = { method: 'fft', grid, buffers };
        break;
      }
      default:
        throw new TypeError(`unknown t-SNE method ${String(method)}`);
    }
    this.steps[repulsion.method]++;
    const partials = this.partials;
    await executor.run(
      {
        kind: 'gradient',
        n,
        y,
        rowPtr: p.rowPtr,
        colIdx: p.colIdx,
        values: p.values,
        exaggeration,
        computeError,
        posF: this.posF,
        negF: this.negF,
        partials,
        repulsion,
      },
      signal,
    );
    // Summed in chunk order: the same total for any number of threads.
    let sumQ = 0;
    let pLogP = 0;
    let pLogQZ = 0;
    let sumP = 0;
    for (let c = 0; c < partials.length; c += PARTIALS) {
      sumQ += partials[c + PARTIAL_SUM_Q] as number;
      pLogP += partials[c + PARTIAL_P_LOG_P] as number;
      pLogQZ += partials[c + PARTIAL_P_LOG_QZ] as number;
      sumP += partials[c + PARTIAL_P] as number;
    }
    if (!(sumQ > 0) || !Number.isFinite(sumQ)) {
      throw new Error(`t-SNE normaliser became ${sumQ}: the embedding diverged (learning rate too high?)`);
    }
    const { posF, negF } = this;
    for (let e = 0; e < 2 * n; e++) grad[e] = 4 * ((posF[e] as number) - (negF[e] as number) / sumQ);
    return computeError ? pLogP - pLogQZ + sumP * Math.log(sumQ) : Number.NaN;
  }
}

export interface OptimizeResult {
  klDivergence: number;
  steps: { exact: number; bh: number; fft: number };
  /** Index of the last step taken (sklearn's n_iter_). */
  lastIteration: number;
}

/** Runs the two-phase schedule on `y` (n x 2, shared memory), in place. */
export async function optimize(
  executor: Executor,
  p: SparseAffinities,
  y: Float64Array,
  settings: OptimizeSettings,
): Promise<OptimizeResult> {
  const n = p.n;
  const evaluator = new GradientEvaluator(executor, p, y, settings.method, settings.theta, settings.fft);
  const grad = new Float64Array(2 * n);
  const update = new Float64Array(2 * n);
  const gains = new Float64Array(2 * n);
  const { signal, onProgress, iterations, learningRate } = settings;
  let lastYield = performance.now();

  const descend = async (
    start: number,
    end: number,
    momentum: number,
    exaggeration: number,
    withoutProgress: number,
    phase: 'exaggeration' | 'embedding',
  ): Promise<{ last: number; error: number }> => {
    update.fill(0);
    gains.fill(1);
    let error = Number.MAX_VALUE;
    let bestError = Number.MAX_VALUE;
    let bestIter = start;
    let last = start;
    for (let i = start; i < end; i++) {
      last = i;
      const check = (i + 1) % N_ITER_CHECK === 0;
      const computeError = check || i === end - 1;
      const kl = await evaluator.evaluate(exaggeration, computeError, grad, signal);
      if (computeError) error = kl;
      let normSq = 0;
      for (let e = 0; e < 2 * n; e++) {
        let g = grad[e] as number;
        const u = update[e] as number;
        let gain = u * g < 0 ? (gains[e] as number) + 0.2 : (gains[e] as number) * 0.8;
        if (gain < MIN_GAIN) gain = MIN_GAIN;
        gains[e] = gain;
        g *= gain;
        normSq += g * g;
        const next = momentum * u - learningRate * g;
        update[e] = next;
        y[e] = (y[e] as number) + next;
      }
      const gradNorm = Math.sqrt(normSq);
      onProgress?.(
        computeError
          ? { phase, iteration: i, total: iterations, kl: error, gradNorm }
          : { phase, iteration: i, total: iterations },
      );
      if (check) {
        if (error < bestError) {
          bestError = error;
          bestIter = i;
        } else if (i - bestIter > withoutProgress) {
          break;
        }
        if (gradNorm <= MIN_GRAD_NORM) break;
      }
      // Let timers and abort events run between steps even when no worker message is awaited.
      if (performance.now() - lastYield > 20) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        lastYield = performance.now();
      }
      signal?.throwIfAborted();
    }
    return { last, error };
  };

  const exaggerationEnd = Math.min(settings.exaggerationIterations, iterations);
  let result = await descend(0, exaggerationEnd, 0.5, settings.earlyExaggeration, settings.exaggerationIterations, 'exaggeration');
  if (iterations > exaggerationEnd) {
    result = await descend(result.last + 1, iterations, 0.8, 1, N_ITER_WITHOUT_PROGRESS, 'embedding');
  }
  return { klDivergence: result.error, lastIteration: result.last, steps: { ...evaluator.steps } };
}
