/**
 * One evaluation of the t-SNE gradient and KL divergence: picks the repulsion method for the
 * step ('hybrid' decides here), prepares what the calling thread must (quadtree, FFT grid
 * plan), runs the parallel phases and combines the per-chunk sums in chunk order.
 */
import type { SparseAffinities } from './affinities.js';
import { sharedFloat64 } from './buffers.js';
import type { Executor } from './executor.js';
import { PARTIAL_P_LOG_QZ, PARTIAL_SUM_Q, PARTIALS, pLogPAndSum } from './gradient-attractive.js';
import type { FftBuffers, FftSettings } from './gradient-fft.js';
import { createFftBuffers, DEFAULT_FFT_SETTINGS, embeddingBounds, fftSizeFor, planFftGrid } from './gradient-fft.js';
import type { GradientTask } from './kernels.js';
import { POINT_CHUNK } from './kernels.js';
import { fftCheaper } from './method.js';
import { QuadTree } from './quadtree.js';
import type { TsneMethod } from './types.js';

/**
 * One gradient evaluation: writes the KL gradient into `grad` (the factor 4 included, as
 * sklearn multiplies by 2 (dof + 1) / dof) and returns KL(P || Q) when asked, else NaN.
 */
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
    const common = {
      kind: 'gradient' as const,
      n,
      y,
      rowPtr: p.rowPtr,
      colIdx: p.colIdx,
      values: p.values,
      exaggeration,
      computeError,
      pKey: this.pKey,
      step: this.step++,
      posF: this.posF,
      negF: this.negF,
      partials: this.partials,
    };
    let parts: GradientTask['parts'] = 'all';
    switch (method) {
      case 'exact':
        repulsion = { method: 'exact' };
        break;
      case 'bh': {
        // The workers compute the attraction while this thread builds the tree.
        const attraction = executor.begin({ ...common, parts: 'attraction', repulsion: { method: 'none' } });
        const tree = this.tree as QuadTree;
        tree.build(y);
        await attraction.finish(signal);
        parts = 'repulsion';
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
            groupCount: tree.groupCount,
            groupNode: tree.groupNode,
            groupStart: tree.groupStart,
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
    await executor.run({ ...common, parts, repulsion }, signal);
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
    const { posF, negF } = this;
    for (let e = 0; e < 2 * n; e++) grad[e] = 4 * ((posF[e] as number) - (negF[e] as number) / sumQ);
    if (!computeError) return Number.NaN;
    if (this.pTerms?.exaggeration !== exaggeration) this.pTerms = { exaggeration, ...pLogPAndSum(p.values, exaggeration) };
    const { pLogP, sumP } = this.pTerms;
    return pLogP - pLogQZ + sumP * Math.log(sumQ);
  }
}
