/**
 * Gradient descent on KL(P || Q) exactly as sklearn 1.2's `_gradient_descent` drives it:
 * per-coordinate gains and momentum (descent.ts), the error and the gradient norm checked every 50
 * steps (stop when the norm is <= 1e-7 or the error has not improved for n steps), and the
 * two-phase schedule of `_tsne`: early exaggeration with momentum 0.5, then momentum 0.8, with
 * fresh gains and updates for the second phase.
 */
import type { SparseAffinities } from './affinities.js';
import { sharedFloat64 } from './buffers.js';
import { DESCENT_CHUNK, DESCENT_LEARNING_RATE, DESCENT_MOMENTUM, DESCENT_PARAMS, DESCENT_SUM_Q } from './descent.js';
import type { Executor } from './executor.js';
import { releaseAttraction } from './gradient-attractive.js';
import { GradientEvaluator } from './gradient.js';
import type { FftSettings } from './gradient-fft.js';
import type { TsneMethod, TsneProgress } from './types.js';

const N_ITER_CHECK = 50;
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
  const update = sharedFloat64(2 * n);
  const gains = sharedFloat64(2 * n);
  const params = sharedFloat64(DESCENT_PARAMS);
  const normParts = sharedFloat64(Math.ceil(n / DESCENT_CHUNK));
  const descentStep = executor.prepare({ kind: 'descent', n, y, posF: evaluator.posF, negF: evaluator.negF, gains, update, params, normParts });
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
      const { kl, sumQ } = await evaluator.evaluateForces(exaggeration, computeError, signal);
      if (computeError) error = kl;
      params[DESCENT_SUM_Q] = sumQ;
      params[DESCENT_MOMENTUM] = momentum;
      params[DESCENT_LEARNING_RATE] = learningRate;
      await descentStep.run(signal);
      // Chunk order: the same norm for any number of threads.
      let normSq = 0;
      for (const part of normParts) normSq += part;
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
  try {
    let result = await descend(0, exaggerationEnd, 0.5, settings.earlyExaggeration, settings.exaggerationIterations, 'exaggeration');
    if (iterations > exaggerationEnd) {
      result = await descend(result.last + 1, iterations, 0.8, 1, N_ITER_WITHOUT_PROGRESS, 'embedding');
    }
    return { klDivergence: result.error, lastIteration: result.last, steps: { ...evaluator.steps } };
  } finally {
    descentStep.release();
    evaluator.dispose();
    // This thread's copy of P (workers drop theirs when the executor closes).
    releaseAttraction();
  }
}
