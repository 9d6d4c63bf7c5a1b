/**
 * Representational similarity analysis between two layers: Spearman's rho between the
 * upper triangles of their RDMs (1 - Pearson). An RDM over all 73,000 NSD images would have
 * 2.7e9 cells, so above `maxImages` both RDMs are built over the same seeded subsample of
 * images (2,000 by default: 2.0M pairs); docs/compare.md gives the measured error.
 */
import { createRandom, type RandomSource } from '../random.js';
import { correlateCenteredRanks } from './correlation.js';
import { toSource, type FeatureInput } from './features.js';
import { centeredRanks } from './rank.js';
import { rdmUpperTriangle, upperTriangleSize } from './rdm.js';
import { sampleIndices } from './sample.js';

export interface RsaOptions {
  /** Most images an RDM is built over; a seeded sample above that. Default 2000. */
  readonly maxImages?: number;
  /** Seed of the image sample. Default 0. Ignored when `random` is given. */
  readonly seed?: number;
  /** Source of randomness for the sample (overrides `seed`). */
  readonly random?: RandomSource;
  /** Exactly these rows (overrides the sample). */
  readonly rows?: Int32Array;
  /** Bytes for one column block while building an RDM. Default 64 MiB. */
  readonly blockBytes?: number;
  readonly signal?: AbortSignal;
}

export interface RsaResult {
  /** Spearman's rho between the two RDMs' upper triangles. */
  readonly value: number;
  /** Rows (images) the RDMs were built over, ascending. */
  readonly rows: Int32Array;
  /** Number of image pairs compared. */
  readonly pairs: number;
  /** True when every image was used (no sampling). */
  readonly exact: boolean;
}

export const DEFAULT_RSA_MAX_IMAGES = 2000;

/** The rows an RSA over `n` images uses with these options (seeded sample or all). */
export function rsaRows(n: number, options: Pick<RsaOptions, 'maxImages' | 'seed' | 'random' | 'rows'> = {}): Int32Array {
  if (options.rows) return options.rows;
  const maxImages = options.maxImages ?? DEFAULT_RSA_MAX_IMAGES;
  if (!Number.isInteger(maxImages) || maxImages < 3) throw new RangeError(`maxImages must be an integer >= 3, got ${maxImages}`);
  return sampleIndices(n, maxImages, options.random ?? createRandom(options.seed ?? 0));
}

/** Spearman's rho (ties averaged) between two RDMs given as upper triangles of equal size. */
export function compareRdms(a: Float64Array, b: Float64Array): number {
  if (a.length !== b.length) throw new RangeError(`RDM upper triangles hold ${a.length} and ${b.length} cells; expected the same images in both`);
  return correlateCenteredRanks(centeredRanks(a, 'first RDM'), centeredRanks(b, 'second RDM'), ['first RDM', 'second RDM']);
}

/** RSA between two layers' features of the same images. */
export async function rsa(x: FeatureInput, y: FeatureInput, options: RsaOptions = {}): Promise<RsaResult> {
  const a = toSource(x, 'a');
  const b = toSource(y, 'b');
  if (a.rows !== b.rows) throw new RangeError(`a has ${a.rows} rows but b has ${b.rows}; RSA needs the same images in the same order`);
  const rows = rsaRows(a.rows, options);
  const common = { rows, blockBytes: options.blockBytes, signal: options.signal };
  const value = compareRdms(await rdmUpperTriangle(a, { ...common, label: 'a' }), await rdmUpperTriangle(b, { ...common, label: 'b' }));
  return { value, rows, pairs: upperTriangleSize(rows.length), exact: rows.length === a.rows };
}
