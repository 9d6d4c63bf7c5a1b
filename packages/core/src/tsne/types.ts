/**
 * Public types of the t-SNE engine: options (with their defaults), progress reports and the
 * result. Defaults follow scikit-learn 1.2's `TSNE` so that a Strata map and the Python recipe
 * it replaces are the same computation.
 */
import type { RandomSource } from '../random.js';
import type { FftSettings } from './gradient-fft.js';

/**
 * How the repulsive forces are computed: all pairs, a Barnes-Hut quadtree, FFT interpolation on
 * a grid, or 'hybrid': each step the FFT while its grid is cheaper than the tree, else the tree.
 */
export type TsneMethod = 'exact' | 'bh' | 'fft' | 'hybrid';

/** How the k nearest neighbours of the input points are found. */
export type NeighborMethod = 'exact' | 'approx';

export type TsnePhase = 'neighbors' | 'affinities' | 'init' | 'exaggeration' | 'embedding';

export interface TsneProgress {
  phase: TsnePhase;
  /**
   * Optimisation phases: 0-based index of the gradient step just taken (sklearn's `i`).
   * Neighbour phase: points done so far. Otherwise 0.
   */
  iteration: number;
  /** Steps (or points, in the neighbour phase) in the whole phase sequence. */
  total: number;
  /**
   * KL(P || Q) of the embedding before this step, reported every 50 steps and at the last step
   * as sklearn's verbose output does (during early exaggeration P is the exaggerated P, as there).
   */
  kl?: number;
  /** Norm of the gain-scaled gradient, reported with `kl`. */
  gradNorm?: number;
}

export interface TsneOptions {
  /** Perplexity of the conditional Gaussians; needs perplexity < n. Default 30. */
  perplexity?: number;
  /** Total gradient steps, early exaggeration included (sklearn's `n_iter`). Default 1000. */
  iterations?: number;
  /** Seed for the default random source. Default 0. */
  seed?: number;
  /** Random source (random init, PCA's start vectors, the approximate kNN trees). Default createRandom(seed). */
  random?: RandomSource;
  /**
   * Repulsive-force method. 'auto' (default) picks 'exact' below 600 points, 'bh' below 5,000
   * and 'hybrid' above: the crossovers measured on this implementation (docs/tsne.md).
   */
  method?: TsneMethod | 'auto';
  /**
   * Neighbour search. 'auto' (default) is exact while n * n * dim <= 2e9 (n <= 6,300 at 50
   * dimensions) or n <= 4096, and random-projection forest + neighbour descent above.
   */
  neighbors?: NeighborMethod | 'auto';
  /** Step size; 'auto' (default) is sklearn's max(n / earlyExaggeration / 4, 50). */
  learningRate?: number | 'auto';
  /** Factor on P for the first `exaggerationIterations` steps. Default 12. */
  earlyExaggeration?: number;
  /** Steps with exaggeration and momentum 0.5 (sklearn's fixed _EXPLORATION_N_ITER). Default 250. */
  exaggerationIterations?: number;
  /** Barnes-Hut opening angle (sklearn's `angle`). Default 0.5. */
  theta?: number;
  /**
   * FFT grid: Lagrange nodes per box (default 3), fewest boxes per side (default 40) and widest
   * box in embedding units (default 1). Finer grids are more accurate and cost more.
   */
  fft?: Partial<FftSettings>;
  /**
   * Initial embedding. 'pca' (default) scales the first two principal components so that the
   * first has standard deviation 1e-4; 'random' draws N(0, 1e-4^2); or n x 2 coordinates.
   */
  init?: 'pca' | 'random' | Float32Array;
  /**
   * Threads for the neighbour search and the gradient: the calling thread plus threads - 1
   * workers. Default os.availableParallelism(). Small inputs run on the calling thread only.
   */
  threads?: number;
  /** Called with every phase change and every gradient step. */
  onProgress?: (progress: TsneProgress) => void;
  /** Aborting rejects the promise with the signal's reason and stops the workers. */
  signal?: AbortSignal;
}

export interface TsneResult {
  /** n x 2, row-major. */
  embedding: Float32Array;
  /** KL divergence at the last step, as sklearn's `kl_divergence_`. */
  klDivergence: number;
  /** Gradient steps taken (sklearn's `n_iter_ + 1`); fewer than asked if converged early. */
  iterations: number;
  method: TsneMethod;
  /** Gradient steps computed by each repulsion method ('hybrid' mixes 'fft' and 'bh'). */
  steps: { exact: number; bh: number; fft: number };
  neighbors: NeighborMethod;
  /** Wall-clock seconds of each stage, for benchmarks. */
  timings: { neighbors: number; affinities: number; optimization: number; total: number };
}
