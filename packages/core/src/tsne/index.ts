// t-SNE engine: exact, Barnes-Hut and FFT-interpolated gradients over sklearn-identical
// affinities, on worker threads. The building blocks are exported for tests and benchmarks.
export { tsne, neighborCount } from './tsne.js';
export { chooseMethod, fftCheaper } from './method.js';
export type { NeighborMethod, TsneMethod, TsneOptions, TsnePhase, TsneProgress, TsneResult } from './types.js';
export { trustworthiness } from './trustworthiness.js';
export { binarySearchPerplexity } from './perplexity.js';
export { jointProbabilities } from './affinities.js';
export type { SparseAffinities } from './affinities.js';
export { nearestNeighbors, chooseNeighborMethod, defaultApproxSettings } from './neighbors.js';
export type { ApproxKnnSettings, NeighborGraph } from './neighbors.js';
export { GradientEvaluator } from './gradient.js';
export { createExecutor, workerUrl } from './executor.js';
export type { Executor } from './executor.js';
export { pcaInit, randomInit } from './init.js';
export { ComplexFft } from './fft.js';
export { DEFAULT_FFT_SETTINGS } from './gradient-fft.js';
export type { FftSettings } from './gradient-fft.js';
