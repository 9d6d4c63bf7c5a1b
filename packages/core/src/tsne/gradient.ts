/**
 * One evaluation of the t-SNE gradient and KL divergence: picks the repulsion method for the
 * step ('hybrid' decides here), prepares what the calling thread must (quadtree, FFT grid
 * plan), runs the parallel phases and combines the per-chunk sums in chunk order.
 */
import type { SparseAffinities } from './affinities.js';
import { sharedFloat64 } from './buffers.js';
import type { Executor, PreparedTask } from './executor.js';
import { PARTIAL_P_LOG_QZ, PARTIAL_SUM_Q, PARTIALS, pLogPAndSum } from './gradient-attractive.js';
import type { FftBuffers, FftSettings } from './gradient-fft.js';
import { createFftBuffers, DEFAULT_FFT_SETTINGS, embeddingBounds, fftSizeFor, planFftGrid } from './gradient-fft.js';
import type { GradientTask } from './kernels.js';
import { POINT_CHUNK, STEP_COMPUTE_ERROR, STEP_EXAGGERATION, STEP_INDEX, STEP_PARAMS, STEP_TREE_GROUPS, STEP_TREE_NODES } from './kernels.js';
import { fftCheaper } from './method.js';
import { QuadTree } from './quadtree.js';
import type { TsneMethod } from './types.js';

/** Names each evaluator's P for the threads' copies of it (gradient-attractive.ts). */
let nextPKey = 1;

export class GradientEvaluator {
  readonly posF: Float64Array;
  readonly negF: Float64Array;
  /** Steps computed by each method so far. */
  readonly steps = { exact: 0, bh: 0, fft: 0 };
  private readonly partials: Float64Array;
  private readonly tree: QuadTree | undefined;
  private readonly fftBuffers: FftBuffers | undefined;
  /** pLogPAndSum for the last exaggeration asked (it changes once, at the end of the first phase). */
  private pTerms: { exaggeration: number; pLogP: number; sumP: number } | undefined;
  private readonly pKey = nextPKey++;
  private step = 0;
  /** What the executor runs again every step (a task's arrays reach the workers once). */
  private readonly stepParams = sharedFloat64(STEP_PARAMS);
  private readonly common: Omit<GradientTask, 'parts' | 'repulsion'>;
  private readonly preparedTasks = new Map<string, PreparedTask>();
  private treeArrays: Float64Array | undefined;

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
    this.common = {
      kind: 'gradient',
      n,
      y,
      rowPtr: p.rowPtr,
      colIdx: p.colIdx,
      values: p.values,
      stepParams: this.stepParams,
      pKey: this.pKey,
      posF: this.posF,
      negF: this.negF,
      partials: this.partials,
    };
  }

  private prepared(key: string, task: () => GradientTask): PreparedTask {
    let prepared = this.preparedTasks.get(key);
    if (prepared === undefined) {
      prepared = this.executor.prepare(task());
      this.preparedTasks.set(key, prepared);
    }
    return prepared;
  }

  private release(key: string): void {
    this.preparedTasks.get(key)?.release();
    this.preparedTasks.delete(key);
  }

  /** Lets the executor's workers drop this evaluator's tasks. */
  dispose(): void {
    for (const key of [...this.preparedTasks.keys()]) this.release(key);
  }

  /**
   * One gradient evaluation: writes the KL gradient into `grad` (the factor 4 included, as
   * sklearn multiplies by 2 (dof + 1) / dof) and returns KL(P || Q) when asked, else NaN.
   */
  async evaluate(exaggeration: number, computeError: boolean, grad: Float64Array, signal?: AbortSignal): Promise<number> {
    const { kl, sumQ } = await this.evaluateForces(exaggeration, computeError, signal);
    const { posF, negF } = this;
    for (let e = 0; e < 2 * this.p.n; e++) grad[e] = 4 * ((posF[e] as number) - (negF[e] as number) / sumQ);
    return kl;
  }

  /**
   * The forces of one step into posF (attraction) and negF (repulsion, before division by the
   * normaliser Z = sumQ), and KL(P || Q) when asked (else NaN): the gradient is
   * 4 (posF - negF / sumQ), which the optimiser's descent task forms on the threads.
   */
  async evaluateForces(exaggeration: number, computeError: boolean, signal?: AbortSignal): Promise<{ kl: number; sumQ: number }> {
    const { executor, p, y, stepParams } = this;
    const n = p.n;
    let method = this.method;
    const bounds = method === 'fft' || method === 'hybrid' ? embeddingBounds(y, n) : undefined;
    if (method === 'hybrid') {
      method = fftCheaper(fftSizeFor(bounds as NonNullable<typeof bounds>, this.fft), n) ? 'fft' : 'bh';
    }
    stepParams[STEP_EXAGGERATION] = exaggeration;
    stepParams[STEP_COMPUTE_ERROR] = computeError ? 1 : 0;
    stepParams[STEP_INDEX] = this.step++;
    let repulsion: GradientTask['repulsion']['method'];
    switch (method) {
      case 'exact':
        await this.prepared('exact', () => ({ ...this.common, parts: 'all', repulsion: { method: 'exact' } })).run(signal);
        repulsion = 'exact';
        break;
      case 'bh': {
        // The workers compute the attraction while this thread builds the tree.
        const attraction = this.prepared('attraction', () => ({ ...this.common, parts: 'attraction', repulsion: { method: 'none' } })).begin();
        const tree = this.tree as QuadTree;
        tree.build(y);
        stepParams[STEP_TREE_NODES] = tree.nodeCount;
        stepParams[STEP_TREE_GROUPS] = tree.groupCount;
        await attraction.finish(signal);
        // A tree that outgrew its arrays has new ones: the prepared task must name them.
        if (this.treeArrays !== tree.comX) this.release('bh');
        this.treeArrays = tree.comX;
        const { comX, comY, size, widthSq, skip, first, order, groupNode, groupStart } = tree;
        const bhRepulsion = { method: 'bh' as const, theta: this.theta, tree: { comX, comY, size, widthSq, skip, first, order, groupNode, groupStart } };
        await this.prepared('bh', () => ({ ...this.common, parts: 'repulsion', repulsion: bhRepulsion })).run(signal);
        repulsion = 'bh';
        break;
      }
      case 'fft': {
        const buffers = this.fftBuffers as FftBuffers;
        const grid = planFftGrid(y, n, bounds as NonNullable<typeof bounds>, this.fft, buffers);
        await executor.run({ kind: 'fft-rows-forward', y, grid, buffers }, signal);
        await executor.run({ kind: 'fft-columns', y, grid, buffers }, signal);
        await executor.run({ kind: 'fft-rows-inverse', y, grid, buffers }, signal);
        await executor.run({ ...this.common, parts: 'all', repulsion: { method: 'fft', grid, buffers } }, signal);
        repulsion = 'fft';
        break;
      }
      default:
        throw new TypeError(`unknown t-SNE method ${String(method)}`);
    }
    this.steps[repulsion]++;
    const partials = this.partials;
    // Summed in chunk order: the same total for any number of threads.
    let sumQ = 0;
    let pLogQZ = 0;
    for (let c = 0; c < partials.length; c += PARTIALS) {
      sumQ += partials[c + PARTIAL_SUM_Q] as number;
      pLogQZ += partials[c + PARTIAL_P_LOG_QZ] as number;
    }
    if (!(sumQ > 0) || !Number.isFinite(sumQ)) {
      throw new Error(`t-SNE normaliser became ${sumQ}: the embedding diverged (learning rate too high?)`);
    }
    if (!computeError) return { kl: Number.NaN, sumQ };
    if (this.pTerms?.exaggeration !== exaggeration) this.pTerms = { exaggeration, ...pLogPAndSum(p.values, exaggeration) };
    const { pLogP, sumP } = this.pTerms;
    return { kl: pLogP - pLogQZ + sumP * Math.log(sumQ), sumQ };
  }
}
