/**
 * Public types of stored maps: what identifies one, what a stored one holds, and the options
 * of computing and drawing them.
 */
import type { RunStatus } from '../store/generated/enums.js';
import type { MapMethod } from '../store/maps-repository.js';
import type { TsneMethod, TsneProgress } from '../tsne/types.js';

/**
 * Names a stored map: by id, or by its parameters (defaults as computeMap's). `dataset` is
 * the dataset's name, or its database id.
 */
export type MapKey =
  | number
  | {
      readonly dataset: string | number;
      readonly layer: string;
      /** Default 30. */
      readonly perplexity?: number;
      /** Default 0. */
      readonly seed?: number;
      /** Default 1000. */
      readonly iterations?: number;
      /** Default 'auto': the method computeMap would choose for the layer's point count. */
      readonly method?: TsneMethod | 'auto';
    };

export interface MapRecord {
  readonly id: number;
  readonly dataset: string;
  readonly datasetId: number;
  readonly layer: string;
  readonly perplexity: number;
  readonly seed: number;
  /** Gradient steps asked for (early exaggeration included). */
  readonly iterations: number;
  /** The repulsion method used ('auto' resolved). */
  readonly method: MapMethod;
  /** running: being computed (see `progress`); done: points stored; failed: see `error`. */
  readonly status: RunStatus;
  /** KL(P || Q) at the last step; null until done. */
  readonly klDivergence: number | null;
  /** Database ids of the images (image.id), ascending; point i is (x[i], y[i]). Empty until done. */
  readonly imageIds: Int32Array;
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly pointCount: number;
  readonly createdAt: Date;
  readonly finishedAt: Date | null;
  /** Absolute path of the last mosaic rendered from this map. */
  readonly mosaicPath?: string;
  /** Absolute folder of the dataset's latest atlas (atlas.json and the sheets). */
  readonly atlasDir?: string;
  /** Why it failed. */
  readonly error?: string;
  /** While running: the phase and steps done of total, from the map's run. */
  readonly progress?: { readonly phase: string | null; readonly done: number; readonly total: number };
  /** How it was computed: requested method, neighbour search, steps per method, timings (s). */
  readonly details: MapDetails;
}

export interface MapDetails {
  readonly requestedMethod?: TsneMethod | 'auto';
  readonly neighbors?: string;
  readonly steps?: Readonly<Record<string, number>>;
  /** Gradient steps actually taken (fewer than `iterations` when it converged early). */
  readonly iterationsRun?: number;
  readonly dimension?: number;
  readonly threads?: number;
  readonly timings?: Readonly<Record<string, number>>;
  /** Options of the last mosaic. */
  readonly mosaic?: Readonly<Record<string, unknown>>;
}

export interface ComputeMapOptions {
  /** Dataset name (or database id). */
  readonly dataset: string | number;
  readonly layer: string;
  /** Default 30; needs perplexity < number of images. */
  readonly perplexity?: number;
  /** Default 0. */
  readonly seed?: number;
  /** Default 1000. */
  readonly iterations?: number;
  /** Default 'auto' (exact below 600 points, bh below 5,000, hybrid above; docs/tsne.md). */
  readonly method?: TsneMethod | 'auto';
  /** t-SNE threads; the map is the same for any count. Default: all cores. */
  readonly threads?: number;
  /** Called during a computation only: never when the stored map is returned. */
  readonly onProgress?: (progress: TsneProgress) => void;
  /** Aborting stops the computation; the map is marked failed and the promise rejects. */
  readonly signal?: AbortSignal;
  /**
   * A running map of another process whose heartbeat is older than this is taken over (its
   * process died). Default 5 minutes on a server; on the embedded database, which one process
   * holds, a running map of no live call is always stale.
   */
  readonly staleAfterMs?: number;
  /** How often to look at a map another process is computing. Default 1 s. */
  readonly pollMs?: number;
}
