/**
 * Correlating an external (brain) RDM with every layer's RDM over the same images, with a
 * Mantel-style permutation test: the image labels of the external RDM are shuffled (seeded)
 * and Spearman's rho recomputed, so the p-value respects the dependence between the cells of
 * an RDM (which a t-test on rho would ignore). The same permutations serve every layer.
 */
import { createRandom, type RandomSource } from '../random.js';
import { correlateCenteredRanks } from './correlation.js';
import { toSource, type NamedFeatures } from './features.js';
import { matchImageIds, type ExternalRdm } from './external-rdm.js';
import { centeredRanks, centeredRanksCompact } from './rank.js';
import { rdmUpperTriangle, upperTriangleSize } from './rdm.js';
import { randomPermutation, sampleIndices } from './sample.js';

export const ALTERNATIVES = ['greater', 'less', 'two-sided'] as const;
export type Alternative = (typeof ALTERNATIVES)[number];

export interface RdmCorrelationOptions {
  /** Label permutations for the p-value. Default 1000; 0 skips the test (p is then NaN). */
  readonly permutations?: number;
  /**
   * 'greater' (default): is the layer more similar to the brain RDM than chance (the usual
   * RSA question); 'less'; 'two-sided' compares |rho| (scikit-bio's mantel default).
   */
  readonly alternative?: Alternative;
  /** Most images used; a seeded sample of the RDM's images above. Default 2000 (2.0M pairs). */
  readonly maxImages?: number;
  /**
   * Seed for the image sample (this seed, as readRdmFile's) and the permutations (a seed
   * derived from it). Default 0. Ignored when `random` is given, which then serves both.
   */
  readonly seed?: number;
  readonly random?: RandomSource;
  readonly onProgress?: (progress: { step: string; done: number; total: number }) => void;
  readonly signal?: AbortSignal;
}

export interface LayerRdmCorrelation {
  readonly layer: string;
  /** Spearman's rho between the layer's and the external RDM's upper triangles. */
  readonly rho: number;
  /** Permutation p-value, (1 + #as extreme) / (1 + permutations). */
  readonly p: number;
}

export interface RdmCorrelationResult {
  /** Images of the external RDM used (all of them unless sampled). */
  readonly ids: readonly string[];
  readonly pairs: number;
  readonly permutations: number;
  readonly alternative: Alternative;
  /** False when a seeded sample of images stood in for all of them. */
  readonly exact: boolean;
  readonly layers: readonly LayerRdmCorrelation[];
}

export const DEFAULT_PERMUTATIONS = 1000;
export const DEFAULT_BRAIN_MAX_IMAGES = 2000;

/** The seed of the permutation stream for a given seed (the image sample uses the seed itself). */
export function permutationSeed(seed: number): number {
  return (seed ^ 0x5bd1e995) >>> 0;
}

/** Restricts an RDM to some of its images (positions into its ids), keeping their order. */
export function subsetRdm(rdm: ExternalRdm, positions: Int32Array): ExternalRdm {
  const m = positions.length;
  const values = new Float64Array(m * m);
  for (let i = 0; i < m; i++) {
    const from = (positions[i] as number) * rdm.size;
    for (let j = 0; j < m; j++) values[i * m + j] = rdm.values[from + (positions[j] as number)] as number;
  }
  return { ids: Array.from(positions, (p) => rdm.ids[p] as string), values, size: m, label: rdm.label };
}

/** Permutations evaluated together: each layer's ranks are read once per batch, and the batch gives independent sums. */
const BATCH = 8;

/**
 * Counts permutations at least as extreme as the observed rho. Exposed for tests, which
 * replay the same permutations in numpy.
 */
export function permutationCounts(
  external: Float64Array,
  size: number,
  layerRanks: readonly (Float32Array | Float64Array)[],
  observed: readonly number[],
  permutations: Iterable<Int32Array>,
  alternative: Alternative,
  onPermutation?: () => void,
): number[] {
  // Centered ranks of the external upper triangle, mirrored into a square so a permutation is
  // a gather. Ranks are multiples of 0.5, exact in float32 below 2^23 pairs.
  const ranks = centeredRanks(upperTriangle(external, size));
  const square = ranks.length < 2 ** 23 ? new Float32Array(size * size) : new Float64Array(size * size);
  let norm = 0;
  for (let i = 0, p = 0; i < size; i++) {
    for (let j = i + 1; j < size; j++) {
      const r = ranks[p++] as number;
      square[i * size + j] = r;
      square[j * size + i] = r;
      norm += r * r;
    }
  }
  const layerNorms = layerRanks.map((lr) => {
    let sum = 0;
    for (let i = 0; i < lr.length; i++) sum += (lr[i] as number) ** 2;
    return Math.sqrt(sum * norm);
  });
  const counts = layerRanks.map(() => 0);
  const layers = layerRanks.length;
  // One row segment (j > i) of the upper triangle per permutation of the batch.
  const segment = new Float64Array(BATCH * size);
  const batch = new Int32Array(BATCH * size);
  const sums = new Float64Array(layers * BATCH);
  // Rounding may differ between the observed and a permuted sum over the same cells; do not let it decide.
  const slack = 1e-12;
  const flush = (filled: number): void => {
    // Unused slots repeat the last permutation; their sums are ignored.
    for (let b = filled; b < BATCH; b++) batch.copyWithin(b * size, (filled - 1) * size, filled * size);
    sums.fill(0);
    for (let i = 0, p = 0; i < size; i++) {
      const length = size - i - 1;
      for (let b = 0; b < BATCH; b++) {
        const perm = b * size;
        const row = (batch[perm + i] as number) * size;
        const out = b * size;
        for (let t = 0; t < length; t++) segment[out + t] = square[row + (batch[perm + i + 1 + t] as number)] as number;
      }
      for (let l = 0; l < layers; l++) {
        const lr = layerRanks[l] as Float32Array | Float64Array;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0;
        for (let t = 0; t < length; t++) {
          const x = lr[p + t] as number;
          s0 += x * (segment[t] as number);
          s1 += x * (segment[size + t] as number);
          s2 += x * (segment[2 * size + t] as number);
          s3 += x * (segment[3 * size + t] as number);
          s4 += x * (segment[4 * size + t] as number);
          s5 += x * (segment[5 * size + t] as number);
          s6 += x * (segment[6 * size + t] as number);
          s7 += x * (segment[7 * size + t] as number);
        }
        const at = l * BATCH;
        sums[at] = (sums[at] as number) + s0;
        sums[at + 1] = (sums[at + 1] as number) + s1;
        sums[at + 2] = (sums[at + 2] as number) + s2;
        sums[at + 3] = (sums[at + 3] as number) + s3;
        sums[at + 4] = (sums[at + 4] as number) + s4;
        sums[at + 5] = (sums[at + 5] as number) + s5;
        sums[at + 6] = (sums[at + 6] as number) + s6;
        sums[at + 7] = (sums[at + 7] as number) + s7;
      }
      p += length;
    }
    for (let l = 0; l < layers; l++) {
      const seen = observed[l] as number;
      for (let b = 0; b < filled; b++) {
        const rho = (sums[l * BATCH + b] as number) / (layerNorms[l] as number);
        const extreme = alternative === 'greater' ? rho >= seen - slack : alternative === 'less' ? rho <= seen + slack : Math.abs(rho) >= Math.abs(seen) - slack;
        if (extreme) counts[l] = (counts[l] as number) + 1;
      }
    }
    for (let b = 0; b < filled; b++) onPermutation?.();
  };
  let filled = 0;
  for (const permutation of permutations) {
    if (permutation.length !== size) throw new RangeError(`a permutation of ${permutation.length} images for an RDM of ${size}`);
    batch.set(permutation, filled * size);
    if (++filled === BATCH) {
      flush(filled);
      filled = 0;
    }
  }
  if (filled > 0) flush(filled);
  return counts;
}

/** The upper triangle (i < j, row by row) of a square matrix. */
export function upperTriangle(values: Float64Array, size: number): Float64Array {
  const out = new Float64Array(upperTriangleSize(size));
  let p = 0;
  for (let i = 0; i < size; i++) for (let j = i + 1; j < size; j++) out[p++] = values[i * size + j] as number;
  return out;
}

/** Spearman's rho and a permutation p-value between an external RDM and each layer's RDM over the same images. */
export async function correlateRdmWithLayers(
  rdm: ExternalRdm,
  layers: readonly NamedFeatures[],
  layerIds: readonly string[],
  options: RdmCorrelationOptions = {},
): Promise<RdmCorrelationResult> {
  const { permutations = DEFAULT_PERMUTATIONS, alternative = 'greater', maxImages = DEFAULT_BRAIN_MAX_IMAGES, onProgress, signal } = options;
  if (!Number.isInteger(permutations) || permutations < 0) throw new RangeError(`permutations must be an integer >= 0, got ${permutations}`);
  if (!ALTERNATIVES.includes(alternative)) throw new RangeError(`Unknown alternative "${String(alternative)}"; expected one of ${ALTERNATIVES.join(', ')}`);
  if (!Number.isInteger(maxImages) || maxImages < 3) throw new RangeError(`maxImages must be an integer >= 3, got ${maxImages}`);
  // Separate streams for the image sample and the permutations, so that sampling while reading
  // the file (readRdmFile with the same maxImages and seed) leaves the permutations unchanged.
  const random = options.random ?? createRandom(options.seed ?? 0);
  const permutationRandom = options.random ?? createRandom(permutationSeed(options.seed ?? 0));
  const used = rdm.size > maxImages ? subsetRdm(rdm, sampleIndices(rdm.size, maxImages, random)) : rdm;
  const rows = matchImageIds(used.ids, layerIds, rdm.label);
  const external = upperTriangle(used.values, used.size);
  const externalRanks = centeredRanks(external, rdm.label);
  const layerRanks: (Float32Array | Float64Array)[] = [];
  for (const [l, layer] of layers.entries()) {
    signal?.throwIfAborted();
    onProgress?.({ step: `RDM of ${layer.name}`, done: l, total: layers.length });
    const source = toSource(layer.features, layer.name);
    if (source.rows !== layerIds.length) throw new RangeError(`${layer.name} has ${source.rows} rows but ${layerIds.length} image ids were given; expected one id per row`);
    layerRanks.push(centeredRanksCompact(await rdmUpperTriangle(source, { rows, label: layer.name, signal }), `RDM of ${layer.name}`));
  }
  const observed = layerRanks.map((ranks, l) => correlateCenteredRanks(ranks, externalRanks, [`RDM of ${layers[l]?.name}`, rdm.label]));
  let counts = layers.map(() => 0);
  if (permutations > 0) {
    const order = new Int32Array(used.size);
    let done = 0;
    const generator = function* (): Generator<Int32Array> {
      for (let t = 0; t < permutations; t++) {
        signal?.throwIfAborted();
        yield randomPermutation(used.size, permutationRandom, order);
      }
    };
    counts = permutationCounts(used.values, used.size, layerRanks, observed, generator(), alternative, () => {
      done++;
      if (done % 50 === 0 || done === permutations) onProgress?.({ step: 'permutations', done, total: permutations });
    });
  }
  return {
    ids: used.ids,
    pairs: external.length,
    permutations,
    alternative,
    exact: used.size === rdm.size,
    layers: layers.map((layer, l) => ({
      layer: layer.name,
      rho: observed[l] as number,
      p: permutations > 0 ? ((counts[l] as number) + 1) / (permutations + 1) : NaN,
    })),
  };
}
