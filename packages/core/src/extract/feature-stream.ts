/**
 * Turns an image source into batches of layer activations, one model pass per batch.
 * Batches are looked ahead (one more than the model has sessions): with the model on worker
 * threads (FeatureModel's default), decoding, preprocessing and the caller's writes overlap
 * with inference.
 */
import { INPUT_SIZE } from '../layers.js';
import { preprocessImage } from '../image/preprocess.js';
import type { FeatureModel } from '../model/feature-model.js';
import type { ImageReadError, ImageSource } from '../sources/types.js';

const IMAGE_FLOATS = 3 * INPUT_SIZE * INPUT_SIZE;

export interface ExtractedImage {
  readonly index: number;
  readonly id: string;
}

export interface FeatureBatch {
  /** Source indices [start, end) covered by this batch, good and bad. */
  readonly start: number;
  readonly end: number;
  /** Images that went through the model, in order; row i of each feature matrix is images[i]. */
  readonly images: readonly ExtractedImage[];
  readonly failures: readonly ImageReadError[];
  /** Layer name -> images.length x dimension, C,H,W order within a row. */
  readonly features: ReadonlyMap<string, Float32Array>;
}

export interface FeatureStreamOptions {
  /** First source index to process (to resume). Default 0. */
  readonly start?: number;
  /**
   * Images per model pass. Default 2: on CPUs, batches of 8 were slower at pool1 (the
   * 64 x 224 x 224 activations of a batch no longer fit in cache) and no faster at pool5.
   * On a GPU, use larger batches.
   */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
}

interface PreparedBatch {
  readonly start: number;
  readonly end: number;
  readonly images: ExtractedImage[];
  readonly failures: ImageReadError[];
  readonly input: Float32Array;
}

async function prepareBatch(source: ImageSource, start: number, end: number): Promise<PreparedBatch> {
  const results = await source.readBatch(start, end);
  const images: ExtractedImage[] = [];
  const failures: ImageReadError[] = [];
  const input = new Float32Array(results.length * IMAGE_FLOATS);
  for (const result of results) {
    if (!result.ok) {
      failures.push(result.error);
      continue;
    }
    preprocessImage(result.image, input, images.length * IMAGE_FLOATS);
    images.push({ index: result.index, id: result.id });
  }
  return { start, end, images, failures, input: input.subarray(0, images.length * IMAGE_FLOATS) };
}

export async function* streamFeatures(
  source: ImageSource,
  model: FeatureModel,
  options: FeatureStreamOptions = {},
): AsyncGenerator<FeatureBatch> {
  const batchSize = options.batchSize ?? 2;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${batchSize}`);
  const first = options.start ?? 0;
  if (first < 0 || first > source.size) throw new RangeError(`start ${first} outside [0, ${source.size}]`);

  // Reads, preprocesses and runs one batch. Batch boundaries are fixed in advance, so the next
  // batch can start while the caller still handles this one: with the model on its worker
  // thread, batch k+1 is decoded and computed while batch k is being written.
  const launch = async (start: number): Promise<FeatureBatch> => {
    const batch = await prepareBatch(source, start, Math.min(start + batchSize, source.size));
    const features =
      batch.images.length > 0 ? await model.run(batch.input, batch.images.length) : new Map<string, Float32Array>();
    return { start: batch.start, end: batch.end, images: batch.images, failures: batch.failures, features };
  };

  // Batches in flight: one more than the model can compute at once, so that the next one is
  // being prepared while the others run.
  const depth = model.parallelism + 1;
  const inFlight: Promise<FeatureBatch>[] = [];
  let nextStart = first;
  try {
    for (;;) {
      while (inFlight.length < depth && nextStart < source.size) {
        const batch = launch(nextStart);
        // Keep a rejected look-ahead from surfacing as an unhandled rejection if we stop early.
        batch.catch(() => undefined);
        inFlight.push(batch);
        nextStart += batchSize;
      }
      const current = inFlight.shift();
      if (current === undefined) break;
      options.signal?.throwIfAborted();
      yield await current;
    }
  } finally {
    // Let batches in flight finish before the caller disposes of the model or the source.
    await Promise.allSettled(inFlight);
  }
}
