/**
 * One metric over every pair of layers of the same images (the 18 x 18 matrix), or over
 * one pair. Each layer's expensive part (RDM ranks, neighbour lists, cross-products) is
 * computed once and shared by all pairs it takes part in.
 */
import { createRandom, type RandomSource } from '../random.js';
import { ckaMatrix } from './cka.js';
import { correlateCenteredRanks } from './correlation.js';
import { checkSameRows, toSource, type NamedFeatures } from './features.js';
import type { Kernel } from './kernel.js';
import { checkK, DEFAULT_K, nearestNeighbors, neighborOverlap, sortNeighborRows, type KnnDistance } from './knn.js';
import type { ComparisonMetric } from './metric.js';
import { centeredRanksCompact } from './rank.js';
import { rdmUpperTriangle, upperTriangleSize } from './rdm.js';
import { DEFAULT_RSA_MAX_IMAGES, rsaRows } from './rsa.js';
import { sampleIndices } from './sample.js';

export interface CompareProgress {
  /** What is being computed, e.g. "rsa: RDM of pool5". */
  readonly step: string;
  readonly done: number;
  readonly total: number;
}

export interface CompareLayersOptions {
  readonly metric: ComparisonMetric;
  /** knn: neighbours per image. Default 10. */
  readonly k?: number;
  /** knn: default 'cosine'. */
  readonly distance?: KnnDistance;
  /** rsa: most images an RDM is built over (seeded sample above). Default 2000. */
  readonly maxImages?: number;
  /** knn: most query images whose neighbourhoods are compared (seeded sample above; neighbours always come from all images). Default 5000. */
  readonly maxQueries?: number;
  /** Seed for the rsa/knn samples. Default 0. Ignored when `random` is given. */
  readonly seed?: number;
  readonly random?: RandomSource;
  /** Most bytes of working memory. Default 1 GiB. */
  readonly memoryBytes?: number;
  /** cka and knn: 'auto' (default), 'onnxruntime' or 'float64' (./kernel.ts). */
  readonly kernel?: Kernel;
  readonly onProgress?: (progress: CompareProgress) => void;
  readonly signal?: AbortSignal;
}

export interface LayerMatrix {
  readonly metric: ComparisonMetric;
  readonly layers: readonly string[];
  /** layers x layers, row-major, symmetric. */
  readonly values: Float64Array;
  /** Images every layer has. */
  readonly images: number;
  /** Images the value is computed over: RDM images (rsa), query images (knn), all (cka). */
  readonly imagesUsed: number;
  /** False when a seeded sample of images stood in for all of them. */
  readonly exact: boolean;
  readonly k?: number;
  readonly distance?: KnnDistance;
}

export const DEFAULT_MAX_QUERIES = 5000;

export async function compareLayers(layers: readonly NamedFeatures[], options: CompareLayersOptions): Promise<LayerMatrix> {
  const sources = layers.map((layer) => ({ name: layer.name, source: toSource(layer.features, layer.name) }));
  const images = checkSameRows(sources);
  const names = layers.map((layer) => layer.name);
  const count = layers.length;
  const { metric, onProgress, signal, memoryBytes, kernel } = options;
  const random = (): RandomSource => options.random ?? createRandom(options.seed ?? 0);
  const base = { metric, layers: names, images };
  switch (metric) {
    case 'cka':
    case 'cka-debiased': {
      const values = await ckaMatrix(layers, {
        debiased: metric === 'cka-debiased',
        memoryBytes,
        kernel,
        signal,
        onProgress: (done, total) => onProgress?.({ step: `${metric}: cross-products`, done, total }),
      });
      return { ...base, values, imagesUsed: images, exact: true };
    }
    case 'rsa': {
      const rows = rsaRows(images, { maxImages: options.maxImages ?? DEFAULT_RSA_MAX_IMAGES, random: random() });
      if (upperTriangleSize(rows.length) * 4 * count > (memoryBytes ?? 2 ** 30)) {
        throw new RangeError(`rsa over ${rows.length} images x ${count} layers keeps ${count} x ${upperTriangleSize(rows.length)} ranks, more than the memory budget; lower maxImages`);
      }
      const ranks: (Float32Array | Float64Array)[] = [];
      for (const [l, { name, source }] of sources.entries()) {
        onProgress?.({ step: `rsa: RDM of ${name}`, done: l, total: count });
        ranks.push(centeredRanksCompact(await rdmUpperTriangle(source, { rows, label: name, signal }), `RDM of ${name}`));
      }
      const values = pairwise(count, (a, c) => correlateCenteredRanks(ranks[a] as Float32Array | Float64Array, ranks[c] as Float32Array | Float64Array, [`RDM of ${names[a]}`, `RDM of ${names[c]}`]));
      return { ...base, values, imagesUsed: rows.length, exact: rows.length === images };
    }
    case 'knn': {
      const k = options.k ?? DEFAULT_K;
      checkK(k, images);
      const distance = options.distance ?? 'cosine';
      const maxQueries = options.maxQueries ?? DEFAULT_MAX_QUERIES;
      if (!Number.isInteger(maxQueries) || maxQueries < 1) throw new RangeError(`maxQueries must be a positive integer, got ${maxQueries}`);
      const queries = sampleIndices(images, maxQueries, random());
      const lists: Int32Array[] = [];
      for (const [l, { name, source }] of sources.entries()) {
        const list = await nearestNeighbors(source, {
          k,
          distance,
          queries,
          memoryBytes,
          kernel,
          label: name,
          signal,
          onProgress: (done, total) => onProgress?.({ step: `knn: neighbours in ${name}`, done: l * total + done, total: count * total }),
        });
        lists.push(sortNeighborRows(list, k));
      }
      const values = pairwise(count, (a, c) => neighborOverlap(lists[a] as Int32Array, lists[c] as Int32Array, k, true).mean);
      return { ...base, values, imagesUsed: queries.length, exact: queries.length === images, k, distance };
    }
    default:
      throw new RangeError(`Unknown metric "${String(metric)}"; expected cka, cka-debiased, rsa or knn`);
  }
}

function pairwise(count: number, value: (a: number, c: number) => number): Float64Array {
  const out = new Float64Array(count * count);
  for (let a = 0; a < count; a++) {
    out[a * count + a] = 1;
    for (let c = a + 1; c < count; c++) {
      const v = value(a, c);
      out[a * count + c] = v;
      out[c * count + a] = v;
    }
  }
  return out;
}

export interface PairComparison {
  readonly metric: ComparisonMetric;
  readonly value: number;
  readonly images: number;
  readonly imagesUsed: number;
  readonly exact: boolean;
  readonly k?: number;
  readonly distance?: KnnDistance;
}

/** One metric between two layers (the 2 x 2 case of `compareLayers`). */
export async function compareTwo(a: NamedFeatures, b: NamedFeatures, options: CompareLayersOptions): Promise<PairComparison> {
  const { values, layers: _layers, ...rest } = await compareLayers([a, b], options);
  return { ...rest, value: values[1] as number };
}
