/**
 * Runs one job in a worker: extraction (the resumable ingest: sample, PCA, store, index), a
 * t-SNE map (with its mosaic and atlas), a layer comparison or a layer x layer matrix. The
 * worker process around it (apps/api) takes jobs from the queue, keeps the heartbeat and
 * writes the progress this reports.
 */
import { parseLayerList } from '../layers.js';
import { ingestDataset, type IngestPhase } from '../ingest/index.js';
import { openImageSource } from '../sources/open.js';
import type { JobItemError, JobProgress, JobRecord } from '../store/job-repository.js';
import type { Store } from '../store/store.js';
import { compareDatasetLayers, layerSimilarityMatrix } from '../compare/dataset.js';
import { buildDatasetAtlas, computeMap, renderStoredMosaic } from '../maps/index.js';
import type { ExecutionProvider } from '../model/runtime.js';
import type { TsneMethod } from '../tsne/types.js';
import { readJobParams, type ComparisonParams, type ExtractionParams, type LayerMatrixParams, type MapParams } from './definitions.js';

export interface JobContext {
  readonly store: Store;
  readonly job: JobRecord;
  /** Aborted when the job is cancelled, taken over by another worker, or the worker stops. */
  readonly signal: AbortSignal;
  /** Progress; the caller decides how often it reaches the database. */
  readonly report: (progress: JobProgress) => void;
  /** Inference and t-SNE threads. Default: all cores. */
  readonly threads?: number;
  /** Where extractions run the model (STRATA_WORKER_DEVICE). Default 'cpu'. */
  readonly executionProvider?: ExecutionProvider;
  /**
   * When the worker running a job is taken for dead (its retry then resumes the job). A map
   * being computed by a process silent this long is taken over. Default 60 s.
   */
  readonly staleAfterMs?: number;
}

export type JobResult = Record<string, unknown>;

export async function runJob(context: JobContext): Promise<JobResult> {
  const job = readJobParams(context.job.kind, context.job.params);
  switch (job.kind) {
    case 'extraction':
      return runExtraction(context, job.params);
    case 'map':
      return runMap(context, job.params);
    case 'comparison':
      return runComparison(context, job.params);
    case 'layer_matrix':
      return runLayerMatrix(context, job.params);
    default:
      throw new Error(`unknown job kind ${(job as { kind: string }).kind}`);
  }
}

const PHASE_NAMES: Readonly<Record<IngestPhase, string>> = { sample: 'sample', fit: 'pca', store: 'extract', index: 'index' };

async function runExtraction(context: JobContext, params: ExtractionParams): Promise<JobResult> {
  const { store, report, signal } = context;
  const layers = parseLayerList(params.layers);
  const source = await openImageSource(params.source.path, params.source.kind === 'hdf5' ? { dataset: params.source.hdf5Dataset ?? 'imgBrick' } : {});
  // Loaded here, not at the top: onnxruntime only in processes that run extractions.
  const { FeatureModel } = await import('../model/index.js');
  let model: Awaited<ReturnType<typeof FeatureModel.load>> | undefined;
  // Errors already listed by an earlier attempt of this job (a replayed batch reads them again).
  const seen = new Set(context.job.errors.map((error) => error.index));
  let phase = 'starting';
  try {
    model = await FeatureModel.load(params.modelPath, {
      layers,
      ...(context.threads ? { threads: context.threads } : {}),
      ...(context.executionProvider ? { executionProvider: context.executionProvider } : {}),
    });
    const summary = await ingestDataset({
      store,
      source,
      sourceInfo: { kind: params.source.kind, path: params.source.path, ...(params.source.kind === 'hdf5' ? { dataset: params.source.hdf5Dataset ?? 'imgBrick' } : {}) },
      name: params.dataset,
      model,
      modelPath: params.modelPath,
      layers,
      components: params.components,
      sampleSize: params.sampleSize,
      seed: params.seed,
      batchSize: params.batchSize,
      signal,
      onPhase: (name, detail) => {
        phase = `${PHASE_NAMES[name]}${detail.layer ? ` ${detail.layer}` : ''}`;
        report({ phase, done: detail.done, total: detail.total, rate: null });
      },
      onProgress: (p) => {
        const label = `${PHASE_NAMES[p.phase]}${p.layer ? ` ${p.layer}` : ''}${p.step ? ` (${p.step})` : ''}`;
        report({ phase: label, done: p.done, total: p.total, rate: p.doneThisRun / Math.max(p.elapsedMs / 1000, 1e-3) });
      },
      onFailure: (failure) => {
        if (seen.has(failure.index)) return;
        seen.add(failure.index);
        const error: JobItemError = { index: failure.index, id: failure.id, message: failure.reason };
        report({ newErrors: [error] });
      },
    });
    if (summary.runId !== null) report({ coreRunId: summary.runId });
    return {
      dataset: summary.dataset,
      images: summary.images,
      failures: summary.failures,
      resumed: summary.resumed,
      alreadyComplete: summary.alreadyComplete,
      layers: summary.layers.map((layer) => ({ ...layer })),
      coreRunId: summary.runId,
    };
  } finally {
    await model?.dispose();
    await source.close();
  }
}

async function runMap(context: JobContext, params: MapParams): Promise<JobResult> {
  const { store, report, signal } = context;
  report({ phase: 't-SNE', done: 0, total: 0, rate: null });
  const started = performance.now();
  const map = await computeMap(store, {
    dataset: params.dataset,
    layer: params.layer,
    perplexity: params.perplexity,
    seed: params.seed,
    ...(params.iterations !== undefined ? { iterations: params.iterations } : {}),
    ...(params.method !== undefined ? { method: params.method as TsneMethod | 'auto' } : {}),
    ...(context.threads ? { threads: context.threads } : {}),
    staleAfterMs: context.staleAfterMs ?? 60_000,
    onProgress: (p) => report({ phase: `t-SNE ${p.phase}`, done: p.iteration, total: p.total, rate: p.iteration / Math.max((performance.now() - started) / 1000, 1e-3) }),
    signal,
  });
  const result: Record<string, unknown> = { mapId: map.id, klDivergence: map.klDivergence, points: map.imageIds.length };
  if (params.mosaic) {
    report({ phase: 'mosaic', done: 0, total: 1, rate: null });
    result.mosaicPath = (await renderStoredMosaic(store, map.id, { signal })).path;
  }
  if (params.atlas) {
    report({ phase: 'atlas', done: 0, total: 1, rate: null });
    result.atlasDir = (await buildDatasetAtlas(store, params.dataset, { signal, reuse: true })).atlasDir;
  }
  return result;
}

async function runComparison(context: JobContext, params: ComparisonParams): Promise<JobResult> {
  context.report({ phase: `compare ${params.layerA} ${params.layerB}`, done: 0, total: 1, rate: null });
  const result = await compareDatasetLayers(context.store, {
    dataset: params.dataset,
    layerA: params.layerA,
    layerB: params.layerB,
    signal: context.signal,
    onProgress: (p) => context.report({ phase: `compare: ${p.step}`, done: p.done, total: p.total }),
  });
  return { cka: result.cka, rsa: result.rsa, knnOverlap: result.knnOverlap, images: result.images };
}

async function runLayerMatrix(context: JobContext, params: LayerMatrixParams): Promise<JobResult> {
  context.report({ phase: `layer matrix (${params.metric})`, done: 0, total: 1, rate: null });
  const result = await layerSimilarityMatrix(context.store, {
    dataset: params.dataset,
    metric: params.metric,
    signal: context.signal,
    onProgress: (p) => context.report({ phase: `layer matrix: ${p.step}`, done: p.done, total: p.total }),
  });
  // Row-major layers x layers, as JSON numbers.
  return { layers: [...result.layers], values: Array.from(result.values), images: result.images };
}
