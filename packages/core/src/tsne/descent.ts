/**
 * The update of sklearn 1.2's `_gradient_descent` for a chunk of points, as a kernel task so
 * that all threads share it: the gradient 4 (F_attr - F_rep / Z) from the forces the gradient
 * task left, per-coordinate gains (+0.2 when the sign flips against the last update, x0.8
 * otherwise, floored at 0.01), momentum, and y += update. Each chunk leaves the squared norm of
 * its gain-scaled gradient in its own slot; the caller adds them in chunk order.
 */

/** Points per chunk. */
export const DESCENT_CHUNK = 1024;
const MIN_GAIN = 0.01;

/** Slots of DescentTask.params, written before each run. */
export const DESCENT_SUM_Q = 0;
export const DESCENT_MOMENTUM = 1;
export const DESCENT_LEARNING_RATE = 2;
export const DESCENT_PARAMS = 3;

export interface DescentTask {
  kind: 'descent';
  n: number;
  y: Float64Array;
  /** Attractive and (unnormalised) repulsive forces, n x 2. */
  posF: Float64Array;
  negF: Float64Array;
  gains: Float64Array;
  update: Float64Array;
  params: Float64Array;
  /** One squared norm per chunk. */
  normParts: Float64Array;
}

export function descentChunk(task: DescentTask, chunk: number): void {
  const { y, posF, negF, gains, update, params } = task;
  const sumQ = params[DESCENT_SUM_Q] as number;
  const momentum = params[DESCENT_MOMENTUM] as number;
  const learningRate = params[DESCENT_LEARNING_RATE] as number;
  const from = 2 * chunk * DESCENT_CHUNK;
  const to = 2 * Math.min(task.n, (chunk + 1) * DESCENT_CHUNK);
  let normSq = 0;
  for (let e = from; e < to; e++) {
    let g = 4 * ((posF[e] as number) - (negF[e] as number) / sumQ);
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
  task.normParts[chunk] = normSq;
}
