/**
 * Views of an image source used by ingest: a sample of its images (the PCA fit's input) and a
 * pass-through that remembers each image's size (stored with the image).
 */
import type { ImageSource, SourceResult } from '../sources/types.js';

/**
 * The images at `indices` of `source`, as a source of indices.length images. Its location
 * names the sample, so a resumable extraction of it is keyed by the sample too.
 */
export function sampledSource(source: ImageSource, indices: Int32Array, label: string): ImageSource {
  const check = (name: string, value: number, max: number): void => {
    if (!Number.isInteger(value) || value < 0 || value > max) throw new RangeError(`${name} must be an integer in [0, ${max}], got ${value}`);
  };
  return {
    location: `${source.location}#${label}`,
    size: indices.length,
    idOf(index: number): string {
      check('index', index, indices.length - 1);
      return source.idOf(indices[index] as number);
    },
    async readBatch(start: number, end: number): Promise<SourceResult[]> {
      check('start', start, indices.length);
      check('end', end, indices.length);
      const out: SourceResult[] = [];
      // Consecutive source indices are read together.
      let i = start;
      while (i < end) {
        let j = i + 1;
        while (j < end && (indices[j] as number) === (indices[j - 1] as number) + 1) j++;
        const first = indices[i] as number;
        const results = await source.readBatch(first, first + (j - i));
        results.forEach((result, offset) => out.push({ ...result, index: i + offset }));
        i = j;
      }
      return out;
    },
    close: () => source.close(),
  };
}

export interface ImageSize {
  readonly width: number;
  readonly height: number;
}

/** `source` unchanged, except that the size of every image read is put in `sizes` by index. */
export function recordingSizes(source: ImageSource, sizes: Map<number, ImageSize>): ImageSource {
  return {
    location: source.location,
    size: source.size,
    idOf: (index) => source.idOf(index),
    async readBatch(start: number, end: number): Promise<SourceResult[]> {
      const results = await source.readBatch(start, end);
      for (const result of results) if (result.ok) sizes.set(result.index, { width: result.image.width, height: result.image.height });
      return results;
    },
    close: () => source.close(),
  };
}
