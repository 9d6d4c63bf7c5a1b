/**
 * Streams activations into `DIR/<layer>.npy` with a checkpoint after every batch, so that a
 * run killed at any moment continues where it stopped when started again with the same
 * inputs. Rows are images that went through the model; `images.json` maps row -> source id.
 *
 * Files in DIR while a run is in progress:
 *   <layer>.npy          rows appended as produced (header row count written at the end)
 *   images.log.jsonl     one line per processed source image, good or bad
 *   checkpoint.json      {nextIndex, rows, logBytes} of the last batch fully on disk
 */
import { closeSync, existsSync, fsyncSync, mkdirSync, openSync, readFileSync, renameSync, truncateSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import type { LayerInfo } from '../layers.js';
import { NpyRowWriter } from '../npy.js';
import type { FeatureModel } from '../model/feature-model.js';
import { ImageReadError, type ImageSource } from '../sources/types.js';
import { streamFeatures } from './feature-stream.js';

const CHECKPOINT_VERSION = 1;

export interface ExtractProgress {
  /** Source images processed so far (this run and earlier runs). */
  readonly done: number;
  readonly total: number;
  /** Rows written (images that went through the model). */
  readonly rows: number;
  readonly failures: number;
  /** Images processed by this run, for rate and ETA. */
  readonly doneThisRun: number;
  readonly elapsedMs: number;
}

export interface ExtractToDirectoryOptions {
  readonly source: ImageSource;
  readonly model: FeatureModel;
  /** sha256 of the model file: a resumed run must use the same model. */
  readonly modelSha256: string;
  readonly outDir: string;
  readonly batchSize?: number;
  /** 'skip' (default) reports a bad image and goes on; 'stop' ends the run at the first one. */
  readonly onBadImage?: 'skip' | 'stop';
  /**
   * Most milliseconds between checkpoints (fsync of every file, then checkpoint.json).
   * Rows are written every batch; a crash loses at most this much work. Default 1000.
   */
  readonly checkpointIntervalMs?: number;
  /** Discard an earlier, different run in outDir instead of refusing to touch it. */
  readonly overwrite?: boolean;
  readonly onProgress?: (progress: ExtractProgress) => void;
  readonly onFailure?: (error: ImageReadError) => void;
  readonly signal?: AbortSignal;
}

export interface ExtractSummary {
  readonly rows: number;
  readonly failures: readonly ImageReadError[];
  readonly layers: readonly LayerInfo[];
  readonly files: readonly string[];
  /** True when an earlier interrupted run was continued. */
  readonly resumed: boolean;
  /** True when outDir already held this finished extraction; nothing was recomputed. */
  readonly alreadyComplete: boolean;
  readonly elapsedMs: number;
}

interface RunIdentity {
  readonly version: number;
  readonly model: string;
  readonly source: string;
  readonly total: number;
  readonly layers: readonly string[];
}

interface Checkpoint extends RunIdentity {
  readonly nextIndex: number;
  readonly rows: number;
  readonly logBytes: number;
  readonly complete: boolean;
}

type LogLine = { row: number; index: number; id: string } | { index: number; id: string; error: string };

/** Raised when `onBadImage: 'stop'` meets a bad image; everything before it is kept. */
export class BadImageError extends Error {
  constructor(readonly badImage: ImageReadError) {
    super(`${badImage.message}; stopped (rerun to continue after fixing it, or skip bad images)`);
    this.name = 'BadImageError';
  }
}

function writeFileAtomic(path: string, text: string): void {
  const temporary = `${path}.tmp`;
  writeFileSync(temporary, text);
  const fd = openSync(temporary, 'r');
  fsyncSync(fd);
  closeSync(fd);
  renameSync(temporary, path);
}

function sameIdentity(a: RunIdentity, b: RunIdentity): string | undefined {
  if (a.version !== b.version) return `checkpoint format ${a.version} vs ${b.version}`;
  if (a.model !== b.model) return `model sha256 ${a.model.slice(0, 12)}… vs ${b.model.slice(0, 12)}…`;
  if (a.source !== b.source) return `source ${a.source} vs ${b.source}`;
  if (a.total !== b.total) return `${a.total} vs ${b.total} images`;
  if (a.layers.join(',') !== b.layers.join(',')) return `layers ${a.layers.join(',')} vs ${b.layers.join(',')}`;
  return undefined;
}

export async function extractToDirectory(options: ExtractToDirectoryOptions): Promise<ExtractSummary> {
  const { source, model, outDir } = options;
  const startedAt = performance.now();
  const layers = model.layers;
  const identity: RunIdentity = {
    version: CHECKPOINT_VERSION,
    model: options.modelSha256,
    source: source.location,
    total: source.size,
    layers: layers.map((layer) => layer.name),
  };
  mkdirSync(outDir, { recursive: true });
  const checkpointPath = join(outDir, 'checkpoint.json');
  const logPath = join(outDir, 'images.log.jsonl');
  const npyPath = (layer: LayerInfo): string => join(outDir, `${layer.name}.npy`);

  let previous: Checkpoint | undefined;
  if (existsSync(checkpointPath)) {
    previous = JSON.parse(readFileSync(checkpointPath, 'utf8')) as Checkpoint;
    const difference = sameIdentity(previous, identity);
    if (difference !== undefined) {
      if (!options.overwrite) {
        throw new Error(`${outDir} holds a different extraction (${difference}); choose another --out or pass --overwrite to replace it`);
      }
      previous = undefined;
    }
  } else if (!options.overwrite) {
    const clash = layers.map(npyPath).find((path) => existsSync(path));
    if (clash !== undefined) throw new Error(`${clash} exists and was not written by a resumable Strata run; choose another --out or pass --overwrite`);
  }

  const files = [...layers.map(npyPath), join(outDir, 'images.json')];
  if (previous?.complete) {
    return { rows: previous.rows, failures: readFailures(), layers, files, resumed: false, alreadyComplete: true, elapsedMs: 0 };
  }
  const resumed = previous !== undefined && previous.nextIndex > 0;
  let nextIndex = previous?.nextIndex ?? 0;
  let rows = previous?.rows ?? 0;
  let logBytes = previous?.logBytes ?? 0;
  const writers = layers.map((layer) =>
    previous ? NpyRowWriter.resume(npyPath(layer), layer.dimension, rows) : NpyRowWriter.create(npyPath(layer), layer.dimension),
  );
  if (previous) truncateSync(logPath, logBytes);
  else writeFileSync(logPath, '');
  const logFd = openSync(logPath, 'r+');

  const failures: ImageReadError[] = [];
  const checkpointIntervalMs = options.checkpointIntervalMs ?? 1000;
  let lastCheckpointAt = performance.now();
  const writeCheckpoint = (complete: boolean): void =>
    writeFileAtomic(checkpointPath, JSON.stringify({ ...identity, nextIndex, rows, logBytes, complete } satisfies Checkpoint));
  // The checkpoint may only name rows that are already on disk, hence the fsyncs first.
  const saveCheckpoint = (): void => {
    for (const writer of writers) writer.sync();
    fsyncSync(logFd);
    writeCheckpoint(false);
    lastCheckpointAt = performance.now();
  };
  const startIndex = nextIndex;

  try {
    if (!previous) saveCheckpoint();
    for await (const batch of streamFeatures(source, model, { start: nextIndex, batchSize: options.batchSize, signal: options.signal })) {
      if (options.onBadImage === 'stop' && batch.failures.length > 0) {
        const firstBad = batch.failures[0] as ImageReadError;
        // Keep the good images that come before the bad one, so a rerun starts at it.
        const keep = batch.images.filter((image) => image.index < firstBad.index).length;
        commitBatch(batch.images.slice(0, keep), [], batch.features, keep, firstBad.index);
        saveCheckpoint();
        throw new BadImageError(firstBad);
      }
      commitBatch(batch.images, batch.failures, batch.features, batch.images.length, batch.end);
      if (performance.now() - lastCheckpointAt >= checkpointIntervalMs) saveCheckpoint();
      options.onProgress?.({
        done: nextIndex,
        total: source.size,
        rows,
        failures: failures.length,
        doneThisRun: nextIndex - startIndex,
        elapsedMs: performance.now() - startedAt,
      });
    }
  } catch (error) {
    // Interrupted between batches: keep everything done so far.
    if (options.signal?.aborted) saveCheckpoint();
    for (const writer of writers) writer.close();
    closeSync(logFd);
    throw error;
  }

  for (const writer of writers) writer.finish();
  fsyncSync(logFd);
  closeSync(logFd);
  writeImagesJson();
  writeCheckpoint(true);
  return {
    rows,
    failures: readFailures(),
    layers,
    files,
    resumed,
    alreadyComplete: false,
    elapsedMs: performance.now() - startedAt,
  };

  function commitBatch(
    images: readonly { index: number; id: string }[],
    batchFailures: readonly ImageReadError[],
    features: ReadonlyMap<string, Float32Array>,
    count: number,
    end: number,
  ): void {
    layers.forEach((layer, i) => {
      const matrix = features.get(layer.name);
      if (count > 0) {
        if (!matrix) throw new Error(`model returned no output for layer ${layer.name}`);
        (writers[i] as NpyRowWriter).append(matrix.subarray(0, count * layer.dimension));
      }
    });
    const lines: LogLine[] = [
      ...images.map((image, i) => ({ row: rows + i, index: image.index, id: image.id })),
      ...batchFailures.map((failure) => ({ index: failure.index, id: failure.id, error: failure.reason })),
    ].sort((a, b) => a.index - b.index);
    if (lines.length > 0) {
      const text = Buffer.from(lines.map((line) => JSON.stringify(line)).join('\n') + '\n');
      writeSync(logFd, text, 0, text.length, logBytes);
      logBytes += text.length;
    }
    for (const failure of batchFailures) {
      failures.push(failure);
      options.onFailure?.(failure);
    }
    rows += count;
    nextIndex = end;
  }

  function readLog(): LogLine[] {
    const text = readFileSync(logPath, 'utf8');
    return text
      .split('\n')
      .filter((line) => line !== '')
      .map((line) => JSON.parse(line) as LogLine);
  }

  function readFailures(): ImageReadError[] {
    return readLog().flatMap((line) => ('error' in line ? [new ImageReadError(line.index, line.id, line.error)] : []));
  }

  function writeImagesJson(): void {
    const log = readLog();
    const imagesJson = {
      source: source.location,
      model: options.modelSha256,
      layers: layers.map((layer) => ({ name: layer.name, shape: layer.shape, dimension: layer.dimension, file: `${layer.name}.npy` })),
      rows: log.flatMap((line) => ('row' in line ? [{ index: line.index, id: line.id }] : [])),
      failures: log.flatMap((line) => ('error' in line ? [{ index: line.index, id: line.id, error: line.error }] : [])),
    };
    writeFileAtomic(join(outDir, 'images.json'), JSON.stringify(imagesJson, null, 1) + '\n');
  }
}
