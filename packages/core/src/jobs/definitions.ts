/**
 * The jobs Strata's workers run, their parameters and the key that names what a job computes
 * (two requests for the same map share one job and one result). Parameters are stored with the
 * job (strata_api.job.params); the queue message only carries the job's id.
 */
import { InvalidInputError } from '../store/errors.js';
import type { JobKind } from '../store/job-repository.js';

/** The pg-boss queue every Strata job goes through; one worker process runs one job at a time. */
export const JOB_QUEUE = 'strata_jobs';

export interface ExtractionParams {
  readonly dataset: string;
  readonly layers: readonly string[];
  readonly components: number;
  readonly sampleSize: number;
  readonly seed: number;
  readonly batchSize: number;
  /** The model file; ingest checks it against the dataset's model (sha256). */
  readonly modelPath: string;
  readonly source: { readonly kind: 'hdf5' | 'folder'; readonly path: string; readonly hdf5Dataset?: string };
}

export interface MapParams {
  readonly dataset: string;
  readonly layer: string;
  readonly perplexity: number;
  readonly seed: number;
  readonly iterations?: number;
  readonly method?: string;
  readonly mosaic: boolean;
  readonly atlas: boolean;
}

export interface ComparisonParams {
  readonly dataset: string;
  readonly layerA: string;
  readonly layerB: string;
}

export interface LayerMatrixParams {
  readonly dataset: string;
  readonly metric: string;
}

export type JobParams =
  | { readonly kind: 'extraction'; readonly params: ExtractionParams }
  | { readonly kind: 'map'; readonly params: MapParams }
  | { readonly kind: 'comparison'; readonly params: ComparisonParams }
  | { readonly kind: 'layer_matrix'; readonly params: LayerMatrixParams };

/** The message a job's queue entry carries. */
export interface JobMessage {
  readonly jobId: number;
}

/** What a job computes, as a string: equal keys, equal results. */
export function jobKey(job: JobParams, datasetId: number): string {
  switch (job.kind) {
    case 'extraction':
      return `extraction:${datasetId}:${[...job.params.layers].sort().join(',')}:${job.params.components}`;
    case 'map':
      return `map:${datasetId}:${job.params.layer}:${job.params.perplexity}:${job.params.seed}`;
    case 'comparison': {
      // CKA, RSA and kNN overlap are symmetric: A-B and B-A are one comparison.
      const [a, b] = [job.params.layerA, job.params.layerB].sort();
      return `comparison:${datasetId}:${a}:${b}`;
    }
    case 'layer_matrix':
      return `layer_matrix:${datasetId}:${job.params.metric}`;
    default:
      throw new InvalidInputError(`unknown job kind ${(job as { kind: string }).kind}`);
  }
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

/** The stored parameters of a job of `kind`, checked (they come back from the database as JSON). */
export function readJobParams(kind: JobKind, params: unknown): JobParams {
  if (!isRecord(params) || typeof params.dataset !== 'string') {
    throw new InvalidInputError(`job parameters must be an object with a dataset name, got ${JSON.stringify(params)}`);
  }
  switch (kind) {
    case 'extraction':
      if (!Array.isArray(params.layers) || !isRecord(params.source) || typeof params.modelPath !== 'string') {
        throw new InvalidInputError(`extraction parameters need layers, source and modelPath, got ${JSON.stringify(params)}`);
      }
      return { kind, params: params as unknown as ExtractionParams };
    case 'map':
      if (typeof params.layer !== 'string' || typeof params.perplexity !== 'number' || typeof params.seed !== 'number') {
        throw new InvalidInputError(`map parameters need layer, perplexity and seed, got ${JSON.stringify(params)}`);
      }
      return { kind, params: params as unknown as MapParams };
    case 'comparison':
      if (typeof params.layerA !== 'string' || typeof params.layerB !== 'string') {
        throw new InvalidInputError(`comparison parameters need layerA and layerB, got ${JSON.stringify(params)}`);
      }
      return { kind, params: params as unknown as ComparisonParams };
    case 'layer_matrix':
      if (typeof params.metric !== 'string') throw new InvalidInputError(`layer matrix parameters need a metric, got ${JSON.stringify(params)}`);
      return { kind, params: params as unknown as LayerMatrixParams };
    default:
      throw new InvalidInputError(`unknown job kind ${String(kind)}`);
  }
}

/**
 * Errors that running the job again cannot fix (bad input, a conflict with what is stored): the
 * worker marks the job failed at once instead of letting the queue retry.
 */
export function isPermanentJobError(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return code === 'INVALID' || code === 'CONFLICT' || code === 'NOT_FOUND' || error instanceof RangeError || error instanceof TypeError;
}
