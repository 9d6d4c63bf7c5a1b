/**
 * `ingest`: an image set into the feature store in one resumable run.
 *
 *   plan    check the request against what is stored (model, source, PCA size) and record the
 *           dataset, its layers and a run; nothing is written when a check fails
 *   sample  extract a seeded sample of up to `sampleSize` images to .npy in the data folder
 *           (extractToDirectory: resumable), once for all layers still without a basis
 *   fit     fit PCA per layer, save the basis under <data>/bases, record its sha256
 *   store   stream every image through the model, project each layer with its basis and
 *           commit images + vectors + the run's cursor in one transaction per batch
 *   index   build each layer's HNSW indexes, check it holds one vector per stored image
 *
 * Killed at any moment, a rerun continues: the sample extraction from its checkpoint, a layer
 * with a recorded basis skips the fit, the store pass from the last committed cursor (inserts
 * are ON CONFLICT DO NOTHING, so a batch is never stored twice), index builds from scratch.
 */
import { mkdirSync, rmSync } from 'node:fs';
import { basename, join, relative } from 'node:path';
import { extractToDirectory } from '../extract/extract-to-directory.js';
import { streamFeatures } from '../extract/feature-stream.js';
import type { LayerInfo } from '../layers.js';
import type { FeatureModel } from '../model/feature-model.js';
import { NpyMatrixReader } from '../npy.js';
import { fitPca, PcaModel, selectSampleRows } from '../pca/index.js';
import type { ImageReadError, ImageSource } from '../sources/types.js';
import { ConflictError, InvalidInputError } from '../store/errors.js';
import type { Prisma } from '../store/generated/client.js';
import type { Store, TransactionClient } from '../store/store.js';
import { createHnswIndex, insertVectors, MAX_INDEXED_DIMENSION, METRICS, type Metric } from '../store/vectors.js';
import { recordingSizes, sampledSource, type ImageSize } from './sampled-source.js';

export type IngestPhase = 'sample' | 'fit' | 'store' | 'index';

export interface IngestProgress {
  readonly phase: IngestPhase;
  /** Layer being fitted or indexed. */
  readonly layer?: string;
  /** Within 'fit': the PCA's own step (gather, gram, eigen, basis), each with its own done/total. */
  readonly step?: string;
  /** Units of the phase done so far (images; for 'fit' the PCA's own steps), this and earlier runs. */
  readonly done: number;
  readonly total: number;
  /** Units done by this process in this phase, for rate and ETA. */
  readonly doneThisRun: number;
  readonly elapsedMs: number;
}

export interface IngestOptions {
  readonly store: Store;
  readonly source: ImageSource;
  /** How the source was opened, recorded on the dataset and checked by later ingests. */
  readonly sourceInfo: { readonly kind: 'hdf5' | 'folder'; readonly path: string; readonly dataset?: string };
  /** Dataset name (unique in the store). */
  readonly name: string;
  /** The loaded model; it must compute every layer in `layers`. */
  readonly model: FeatureModel;
  /** File the model came from (its name is recorded). */
  readonly modelPath: string;
  readonly layers: readonly LayerInfo[];
  /** PCA components = dimension of the stored vectors. Default 256. */
  readonly components?: number;
  /** Most images in the PCA sample. Default 5,000. */
  readonly sampleSize?: number;
  /** Seed of the sample. Default 0. */
  readonly seed?: number;
  /** Scale components to unit variance. Default false. */
  readonly whiten?: boolean;
  /** Images per model pass and per committed transaction. Default 8. */
  readonly batchSize?: number;
  /** HNSW indexes built at the end. Default cosine and L2. */
  readonly metrics?: readonly Metric[];
  readonly onProgress?: (progress: IngestProgress) => void;
  readonly onFailure?: (error: ImageReadError) => void;
  /** Announces each phase as it starts (for a new progress bar). */
  readonly onPhase?: (phase: IngestPhase, detail: { readonly total: number; readonly done: number; readonly layer?: string }) => void;
  readonly signal?: AbortSignal;
}

export interface IngestLayerSummary {
  readonly layer: string;
  readonly components: number;
  readonly vectors: number;
  /** Sum of the explained variance ratios of the kept components. */
  readonly explainedVariance: number;
}

export interface IngestSummary {
  readonly dataset: string;
  readonly runId: number | null;
  /** Images stored (read and passed through the model). */
  readonly images: number;
  /** Images of the source that could not be read (listed in the run's errors). */
  readonly failures: number;
  readonly layers: readonly IngestLayerSummary[];
  /** An earlier interrupted run was continued. */
  readonly resumed: boolean;
  /** Every requested layer was already complete; nothing was done. */
  readonly alreadyComplete: boolean;
  readonly elapsedMs: number;
}

interface RunParams {
  readonly layers: readonly string[];
  readonly components: number;
  readonly sampleSize: number;
  readonly seed: number;
  readonly whiten: boolean;
  readonly model: string;
}

interface FailureRecord {
  readonly index: number;
  readonly id: string;
  readonly error: string;
}

/** Parameters as stored in JSON (whose key order Postgres does not keep) against this request's. */
function sameParams(stored: unknown, params: RunParams): boolean {
  if (typeof stored !== 'object' || stored === null) return false;
  const record = stored as Record<string, unknown>;
  return (Object.keys(params) as (keyof RunParams)[]).every((key) => JSON.stringify(record[key]) === JSON.stringify(params[key]));
}

function checkInteger(name: string, value: number, min: number, max = Number.MAX_SAFE_INTEGER): void {
  if (!Number.isInteger(value) || value < min || value > max) throw new RangeError(`${name} must be an integer in [${min}, ${max}], got ${value}`);
}

export async function ingestDataset(options: IngestOptions): Promise<IngestSummary> {
  const started = performance.now();
  const { store, source, model } = options;
  const components = options.components ?? 256;
  const sampleSize = options.sampleSize ?? 5000;
  const seed = options.seed ?? 0;
  const whiten = options.whiten ?? false;
  const batchSize = options.batchSize ?? 8;
  const metrics = options.metrics ?? METRICS;
  const layerNames = [...new Set(options.layers.map((layer) => layer.name))];
  const layers = model.layers.filter((layer) => layerNames.includes(layer.name));

  // ---- checks that need no database ----
  if (!/^[\w.-]{1,100}$/.test(options.name)) {
    throw new InvalidInputError(`dataset name must be 1-100 letters, digits, '_', '-' or '.'; got "${options.name}"`);
  }
  if (layers.length === 0 || layers.length !== layerNames.length) {
    const missing = layerNames.filter((name) => !model.layers.some((layer) => layer.name === name));
    throw new InvalidInputError(
      layerNames.length === 0 ? 'ingest needs at least one layer' : `the model was loaded without layers ${missing.join(', ')}; load it with every layer to ingest`,
    );
  }
  checkInteger('batch size', batchSize, 1);
  checkInteger('sample size (--sample)', sampleSize, 2);
  checkInteger('seed', seed, 0, 2 ** 32 - 1);
  checkInteger('PCA components (--pca)', components, 1, MAX_INDEXED_DIMENSION);
  if (source.size === 0) throw new InvalidInputError(`${source.location} holds no images`);
  const sampleCount = Math.min(sampleSize, source.size);
  for (const layer of layers) {
    const most = Math.min(sampleCount, layer.dimension);
    if (components > most) {
      throw new InvalidInputError(
        `--pca ${components} is more than layer ${layer.name} allows here: at most min(sample of ${sampleCount} images, ${layer.dimension} features) = ${most}; use --pca ${most} or less${sampleCount < layer.dimension ? ', or a larger --sample' : ''}`,
      );
    }
  }
  const params: RunParams = { layers: layerNames, components, sampleSize, seed, whiten, model: model.sha256 };

  // ---- plan: check against the store, then record dataset, layers, run in one transaction ----
  const plan = await store.transaction(async (tx) => {
    const existing = await tx.dataset.findUnique({ where: { name: options.name }, include: { model: true, layers: true } });
    if (existing) {
      if (existing.model.sha256 !== model.sha256) {
        throw new ConflictError(
          `dataset "${options.name}" was built with model ${existing.model.name} (sha256 ${existing.model.sha256.slice(0, 12)}…); ${basename(options.modelPath)} has sha256 ${model.sha256.slice(0, 12)}…; use that model, or another --name`,
        );
      }
      if (existing.sourcePath !== options.sourceInfo.path || existing.imageCount !== source.size || existing.sourceKind !== options.sourceInfo.kind) {
        throw new ConflictError(
          `dataset "${options.name}" holds ${existing.sourcePath} (${existing.imageCount} images); this ingest reads ${options.sourceInfo.path} (${source.size} images); use another --name for other images`,
        );
      }
      for (const layer of existing.layers) {
        if (layerNames.includes(layer.layer) && layer.components !== components) {
          throw new ConflictError(
            `layer ${layer.layer} of dataset "${options.name}" holds ${layer.components}-component PCA vectors; --pca ${components} would mix sizes; use --pca ${layer.components}, or another --name`,
          );
        }
      }
    }
    const modelRow = await tx.model.upsert({
      where: { sha256: model.sha256 },
      create: { name: basename(options.modelPath), sha256: model.sha256 },
      update: {},
    });
    const dataset =
      existing ??
      (await tx.dataset.create({
        data: {
          name: options.name,
          sourceKind: options.sourceInfo.kind,
          sourcePath: options.sourceInfo.path,
          sourceDataset: options.sourceInfo.dataset ?? null,
          imageCount: source.size,
          modelId: modelRow.id,
        },
      }));
    for (const layer of layers) {
      await tx.datasetLayer.upsert({
        where: { datasetId_layer: { datasetId: dataset.id, layer: layer.name } },
        create: { datasetId: dataset.id, layer: layer.name, modelId: modelRow.id, components, status: 'sampling' },
        update: {},
      });
    }
    const layerRows = await tx.datasetLayer.findMany({ where: { datasetId: dataset.id, layer: { in: layerNames } }, include: { pcaBasis: true } });
    if (layerRows.every((row) => row.status === 'ready')) return { dataset, layerRows, run: null, resumed: false };
    // Continue the last unfinished ingest run with the same parameters; give up any other.
    const unfinished = await tx.run.findFirst({ where: { datasetId: dataset.id, kind: 'ingest', status: 'running' }, orderBy: { id: 'desc' } });
    if (unfinished && sameParams(unfinished.params, params)) {
      return { dataset, layerRows, run: unfinished, resumed: true };
    }
    if (unfinished) {
      await tx.run.update({ where: { id: unfinished.id }, data: { status: 'failed', phase: 'superseded by a later ingest with other parameters', finishedAt: new Date() } });
    }
    const run = await tx.run.create({ data: { kind: 'ingest', datasetId: dataset.id, total: source.size, params: { ...params }, phase: 'sample' } });
    return { dataset, layerRows, run, resumed: false };
  });

  const summary = async (alreadyComplete: boolean, failures: number): Promise<IngestSummary> => {
    const record = await store.getDataset(options.name);
    return {
      dataset: options.name,
      runId: plan.run?.id ?? null,
      images: record.storedImages,
      failures,
      layers: record.layers
        .filter((layer) => layerNames.includes(layer.layer))
        .map((layer) => ({
          layer: layer.layer,
          components: layer.components,
          vectors: layer.vectorCount,
          explainedVariance: (layer.pcaBasis?.explainedVarianceRatio ?? []).reduce((a, b) => a + b, 0),
        })),
      resumed: plan.resumed,
      alreadyComplete,
      elapsedMs: performance.now() - started,
    };
  };
  if (plan.run === null) return summary(true, 0);
  const run = plan.run;
  const datasetId = plan.dataset.id;
  const failures: FailureRecord[] = Array.isArray(run.errors) ? (run.errors as unknown as FailureRecord[]) : [];
  const setPhase = (phase: string): Promise<unknown> => store.withPrisma((prisma) => prisma.run.update({ where: { id: run.id }, data: { phase } }));

  // ---- sample + fit, for layers without a basis ----
  const bases = new Map<string, PcaModel>();
  try {
    const unfitted = plan.layerRows.filter((row) => row.pcaBasis === null);
    for (const row of plan.layerRows) {
      if (row.pcaBasis === null || row.status === 'ready') continue;
      const path = join(store.layout.root, row.pcaBasis.path);
      const basis = await PcaModel.load(path).catch((error: unknown) => {
        throw new Error(`PCA basis of layer ${row.layer} (${path}) cannot be read: ${error instanceof Error ? error.message : String(error)}; delete the dataset and ingest again`);
      });
      if (basis.sha256 !== row.pcaBasis.sha256) {
        throw new Error(`PCA basis ${path} has sha256 ${basis.sha256.slice(0, 12)}…, the store recorded ${row.pcaBasis.sha256.slice(0, 12)}…; the file was changed outside Strata`);
      }
      bases.set(row.layer, basis);
    }
    if (unfitted.length > 0) {
      await setPhase('sample');
      const sampleDir = join(store.layout.work, `dataset-${datasetId}`, `sample-seed${seed}-n${sampleSize}`);
      const indices = selectSampleRows(source.size, sampleSize, seed);
      const sampleSource = sampledSource(source, indices, `sample(seed=${seed},n=${sampleSize})`);
      options.onPhase?.('sample', { total: indices.length, done: 0 });
      const extraction = await extractToDirectory({
        source: sampleSource,
        model,
        modelSha256: model.sha256,
        outDir: sampleDir,
        batchSize,
        signal: options.signal,
        onProgress: (p) =>
          options.onProgress?.({ phase: 'sample', done: p.done, total: p.total, doneThisRun: p.doneThisRun, elapsedMs: p.elapsedMs }),
      });
      mkdirSync(store.layout.bases, { recursive: true });
      for (const row of unfitted) {
        const layer = layers.find((candidate) => candidate.name === row.layer) as LayerInfo;
        const reader = new NpyMatrixReader(join(sampleDir, `${layer.name}.npy`));
        let basis: PcaModel;
        try {
          if (reader.rows < 2 || components > Math.min(reader.rows, layer.dimension)) {
            // The sample's failures are nowhere else yet (the store pass lists them): name one.
            const first = extraction.failures[0];
            throw new InvalidInputError(
              `only ${reader.rows} of the ${indices.length} sampled images could be read (${extraction.failures.length} failed${first ? `, e.g. ${first.message}` : ''}): too few for ${components} PCA components of ${layer.name}`,
            );
          }
          await setPhase(`fit ${layer.name}`);
          options.onPhase?.('fit', { total: 1, done: 0, layer: layer.name });
          const fitStarted = performance.now();
          basis = await fitPca(reader, {
            components,
            center: true,
            whiten,
            seed,
            maxSamples: sampleSize,
            signal: options.signal,
            tempDir: store.layout.work,
            onProgress: (p) =>
              options.onProgress?.({ phase: 'fit', layer: layer.name, step: p.phase, done: p.done, total: p.total, doneThisRun: p.done, elapsedMs: performance.now() - fitStarted }),
          });
        } finally {
          reader.close();
        }
        const file = join(store.layout.bases, `${options.name}-${layer.name}-${basis.sha256.slice(0, 16)}.pca`);
        await basis.save(file);
        await store.transaction(async (tx) => {
          const record = await tx.pcaBasis.create({
            data: {
              path: relative(store.layout.root, file),
              sha256: basis.sha256,
              components: basis.components,
              dimension: basis.dimension,
              sampleCount: reader.rows,
              seed,
              whiten: basis.whiten,
              center: basis.center,
              explainedVarianceRatio: Array.from(basis.explainedVarianceRatio),
            },
          });
          await tx.datasetLayer.update({ where: { id: row.id }, data: { pcaBasisId: record.id, status: 'ingesting' } });
        });
        bases.set(layer.name, basis);
      }
      // Every layer has its basis: the sample is no longer needed.
      rmSync(sampleDir, { recursive: true, force: true });
    }

    // ---- store: all images through the model, projected, committed batch by batch ----
    const pending = plan.layerRows.filter((row) => row.status !== 'ready').map((row) => ({ id: row.id, layer: row.layer, dimension: row.components }));
    await setPhase('store');
    const sizes = new Map<number, ImageSize>();
    const reading = recordingSizes(source, sizes);
    const startIndex = run.done;
    const storeStarted = performance.now();
    options.onPhase?.('store', { total: source.size, done: startIndex });
    for await (const batch of streamFeatures(reading, model, { start: startIndex, batchSize, signal: options.signal })) {
      const projected = new Map<string, Float32Array>();
      for (const target of pending) {
        const features = batch.features.get(target.layer);
        const basis = bases.get(target.layer) as PcaModel;
        if (batch.images.length > 0) {
          if (!features) throw new Error(`the model returned no ${target.layer} activations`);
          projected.set(target.layer, await basis.projectAsync(features, batch.images.length));
        }
      }
      for (const failure of batch.failures) {
        failures.push({ index: failure.index, id: failure.id, error: failure.reason });
        options.onFailure?.(failure);
      }
      const done = batch.end;
      const seconds = (performance.now() - storeStarted) / 1000;
      await store.transaction(async (tx) => {
        const imageIds = await storeImages(tx, datasetId, batch.images, sizes);
        for (const target of pending) {
          const vectors = projected.get(target.layer);
          if (vectors) await insertVectors(tx, { id: target.id, dimension: target.dimension }, imageIds, vectors);
        }
        await tx.run.update({
          where: { id: run.id },
          data: {
            done,
            rate: (done - startIndex) / Math.max(seconds, 1e-3),
            ...(batch.failures.length > 0 ? { errors: failures as unknown as Prisma.InputJsonArray } : {}),
          },
        });
      });
      for (const image of batch.images) sizes.delete(image.index);
      options.onProgress?.({ phase: 'store', done, total: source.size, doneThisRun: done - startIndex, elapsedMs: performance.now() - storeStarted });
    }

    // ---- index ----
    await store.transaction(async (tx) => {
      await tx.datasetLayer.updateMany({ where: { id: { in: pending.map((target) => target.id) } }, data: { status: 'indexing' } });
      await tx.run.update({ where: { id: run.id }, data: { phase: 'index', done: source.size } });
    });
    const storedImages = await store.withPrisma((prisma) => prisma.image.count({ where: { datasetId } }));
    for (const target of pending) {
      const space = { id: target.id, dimension: target.dimension };
      const vectors = await store.transaction((tx) => tx.featureVector.count({ where: { datasetLayerId: target.id } }));
      if (vectors !== storedImages) {
        throw new Error(`layer ${target.layer} holds ${vectors} vectors for ${storedImages} stored images; run the ingest again to complete it`);
      }
      options.onPhase?.('index', { total: metrics.length, done: 0, layer: target.layer });
      const indexStarted = performance.now();
      for (const [i, metric] of metrics.entries()) {
        // One transaction per index, so that a finished one survives an interruption of the next.
        await store.transaction((tx) => createHnswIndex(tx, space, metric));
        options.onProgress?.({ phase: 'index', layer: target.layer, done: i + 1, total: metrics.length, doneThisRun: i + 1, elapsedMs: performance.now() - indexStarted });
      }
      await store.withPrisma((prisma) => prisma.datasetLayer.update({ where: { id: target.id }, data: { status: 'ready' } }));
    }
    await store.withPrisma((prisma) =>
      prisma.run.update({ where: { id: run.id }, data: { status: 'done', phase: 'done', finishedAt: new Date() } }),
    );
    return await summary(false, failures.length);
  } finally {
    for (const basis of bases.values()) await basis.dispose();
  }
}

/**
 * Stores a batch's images (again harmlessly, when a batch is replayed) and returns their ids in
 * batch order.
 */
async function storeImages(
  tx: TransactionClient,
  datasetId: number,
  images: readonly { index: number; id: string }[],
  sizes: ReadonlyMap<number, ImageSize>,
): Promise<number[]> {
  if (images.length === 0) return [];
  await tx.image.createMany({
    data: images.map((image) => {
      const size = sizes.get(image.index);
      return { datasetId, index: image.index, sourceId: image.id, width: size?.width ?? 0, height: size?.height ?? 0 };
    }),
    skipDuplicates: true,
  });
  const rows = await tx.image.findMany({ where: { datasetId, index: { in: images.map((image) => image.index) } }, select: { id: true, index: true } });
  const byIndex = new Map(rows.map((row) => [row.index, row.id]));
  return images.map((image) => {
    const id = byIndex.get(image.index);
    if (id === undefined) throw new Error(`image ${image.index} (${image.id}) was not stored`);
    return id;
  });
}
