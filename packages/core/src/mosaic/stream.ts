/**
 * Images of a source in a given order, read in batches of consecutive indices with the next
 * batch already being read while the caller works on the current one (folder sources decode
 * on libvips' threads, so reading and resizing overlap). At most two batches are in memory.
 */
import type { ImageSource, SourceResult } from '../sources/types.js';

export interface StreamOptions {
  /** Source index of each item; default 0 .. source.size - 1. */
  readonly indices?: Int32Array;
  /** Most images per read. Default 8. */
  readonly batchSize?: number;
  readonly signal?: AbortSignal;
}

/** Splits the index list into runs [start, end) of consecutive indices of at most batchSize. */
function runs(indices: Int32Array | undefined, total: number, batchSize: number): [number, number][] {
  const out: [number, number][] = [];
  if (indices === undefined) {
    for (let start = 0; start < total; start += batchSize) out.push([start, Math.min(total, start + batchSize)]);
    return out;
  }
  let i = 0;
  while (i < indices.length) {
    const start = indices[i] ?? 0;
    let end = start + 1;
    i++;
    while (i < indices.length && indices[i] === end && end - start < batchSize) {
      end++;
      i++;
    }
    out.push([start, end]);
  }
  return out;
}

export async function* streamImages(source: ImageSource, options: StreamOptions = {}): AsyncGenerator<SourceResult> {
  const batchSize = options.batchSize ?? 8;
  if (!Number.isInteger(batchSize) || batchSize < 1) throw new RangeError(`batchSize must be a positive integer, got ${String(batchSize)}`);
  const { indices, signal } = options;
  if (indices !== undefined) {
    for (let i = 0; i < indices.length; i++) {
      const index = indices[i] ?? -1;
      if (index < 0 || index >= source.size) {
        throw new RangeError(`row ${i} names image ${index}, but ${source.location} has images 0..${source.size - 1}`);
      }
    }
  }
  const list = runs(indices, source.size, batchSize);
  let pending: Promise<SourceResult[]> | undefined = list[0] ? source.readBatch(...list[0]) : undefined;
  for (let r = 0; r < list.length; r++) {
    const batch = pending === undefined ? [] : await pending;
    const next = list[r + 1];
    pending = next ? source.readBatch(...next) : undefined;
    // Keep a rejected prefetch from being reported as unhandled if the consumer stops early.
    pending?.catch(() => undefined);
    for (const result of batch) {
      signal?.throwIfAborted();
      yield result;
    }
  }
}
