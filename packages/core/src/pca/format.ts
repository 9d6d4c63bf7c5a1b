/**
 * The PCA basis file (`.pca`), written beside the database rather than into it: at pool1 and
 * k = 256 the basis is 822 MB, at conv1 3.3 GB.
 *
 *   bytes 0-7    ASCII "STRATPCA"
 *   bytes 8-11   uint32 little-endian: length H of the JSON header that follows
 *   bytes 12-    UTF-8 JSON header (PcaHeader), padded with spaces; 12 + H is a multiple of 4096
 *   mean         float32 LE [dimension]                  at header.mean.offset
 *   basis        float32 LE [dimension][components]      at header.basis.offset
 *
 * The basis is stored feature-major (sklearn's `components_.T`): row d holds the loadings of
 * feature d on every component, so a block of features is one contiguous byte range and a
 * projection can stream the file block by block. `sha256` is the hash of the bytes from the
 * mean's offset to the end of the file (mean, then basis). The header is written last, into
 * space reserved up front, so the basis can be written (and hashed) as it is computed.
 */
import { createHash, type Hash } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readSync, writeSync } from 'node:fs';

export const PCA_FILE_FORMAT = 'strata-pca';
export const PCA_FILE_VERSION = 1;
const MAGIC = 'STRATPCA';
const ALIGN = 4096;

/** How the fit went; informational. */
export interface PcaSolverInfo {
  /** 'gram': eigenvectors of X X^T (samples <= width); 'covariance': of X^T X. */
  readonly method: 'gram' | 'covariance';
  /** 'dense': tridiagonal QL on the whole matrix; 'subspace': subspace iteration. */
  readonly eigensolver: 'dense' | 'subspace';
  readonly iterations: number;
  /** Products of the n x n (or D x D) matrix with a block of vectors: the solver's main cost. */
  readonly products: number;
  /** Components whose residual met the convergence criterion (all of them when equal to `components`). */
  readonly converged: number;
  /** Largest |1 - norm| over the stored components before normalisation (a float32 accuracy check). */
  readonly normError: number;
  readonly seconds: number;
}

/** The JSON header of a basis file, also what PcaModel.toJSON() returns. */
export interface PcaHeader {
  readonly format: typeof PCA_FILE_FORMAT;
  readonly version: typeof PCA_FILE_VERSION;
  readonly dtype: '<f4';
  /** Features per input row (D). */
  readonly dimension: number;
  /** Components (k). */
  readonly components: number;
  readonly center: boolean;
  readonly whiten: boolean;
  /** Rows the basis was fitted on. */
  readonly samples: number;
  /** Rows of the input the sample was drawn from. */
  readonly sourceRows: number;
  readonly seed: number;
  /** Sum of the variances of all features (of the sample, ddof = 1). */
  readonly totalVariance: number;
  readonly explainedVariance: readonly number[];
  readonly explainedVarianceRatio: readonly number[];
  readonly mean: { readonly offset: number; readonly bytes: number };
  readonly basis: { readonly offset: number; readonly bytes: number; readonly shape: readonly [number, number]; readonly layout: 'feature-major' };
  /** sha256 (hex) of the mean and basis bytes. */
  readonly sha256: string;
  readonly solver: PcaSolverInfo;
}

/** Bytes reserved for the JSON header: generous for k float64 values per array, rounded so data is page-aligned. */
export function reservedHeaderBytes(components: number): number {
  return Math.ceil((12 + 4096 + 2 * 26 * components) / ALIGN) * ALIGN - 12;
}

export function dataOffset(components: number): number {
  return 12 + reservedHeaderBytes(components);
}

export type HeaderFields = Omit<PcaHeader, 'format' | 'version' | 'dtype' | 'mean' | 'basis' | 'sha256'>;

export function completeHeader(fields: HeaderFields, sha256: string): PcaHeader {
  const meanOffset = dataOffset(fields.components);
  const meanBytes = fields.dimension * 4;
  return {
    format: PCA_FILE_FORMAT,
    version: PCA_FILE_VERSION,
    dtype: '<f4',
    ...fields,
    mean: { offset: meanOffset, bytes: meanBytes },
    basis: { offset: meanOffset + meanBytes, bytes: fields.dimension * fields.components * 4, shape: [fields.dimension, fields.components], layout: 'feature-major' },
    sha256,
  };
}

function encodeHeader(header: PcaHeader): Uint8Array {
  const reserved = reservedHeaderBytes(header.components);
  const json = Buffer.from(JSON.stringify(header), 'utf8');
  if (json.length > reserved) throw new RangeError(`PCA header is ${json.length} bytes, more than the ${reserved} reserved`);
  const out = new Uint8Array(12 + reserved).fill(0x20);
  out.set(Buffer.from(MAGIC, 'latin1'), 0);
  new DataView(out.buffer).setUint32(8, reserved, true);
  out.set(json, 12);
  return out;
}

/** Reads and checks the header of a basis file. */
export function readHeader(fd: number, path: string, fileBytes: number): PcaHeader {
  const prefix = new Uint8Array(12);
  if (readSync(fd, prefix, 0, 12, 0) < 12) throw new TypeError(`${path}: ${fileBytes} bytes, too short for a Strata PCA basis file`);
  const magic = Buffer.from(prefix.subarray(0, 8)).toString('latin1');
  if (magic !== MAGIC) throw new TypeError(`${path}: starts with ${JSON.stringify(magic)}, expected "${MAGIC}" (not a Strata PCA basis file)`);
  const length = new DataView(prefix.buffer).getUint32(8, true);
  if (length > 64 << 20) throw new TypeError(`${path}: header length ${length} is implausible (corrupt file?)`);
  const json = new Uint8Array(length);
  if (readSync(fd, json, 0, length, 12) < length) throw new TypeError(`${path}: truncated header`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(Buffer.from(json).toString('utf8'));
  } catch (error) {
    throw new TypeError(`${path}: header is not valid JSON (${(error as Error).message})`);
  }
  const header = parsed as Partial<PcaHeader>;
  if (header.format !== PCA_FILE_FORMAT) throw new TypeError(`${path}: format ${JSON.stringify(header.format)}, expected "${PCA_FILE_FORMAT}"`);
  if (header.version !== PCA_FILE_VERSION) {
    throw new TypeError(`${path}: ${PCA_FILE_FORMAT} version ${JSON.stringify(header.version)}, this Strata reads version ${PCA_FILE_VERSION}`);
  }
  if (header.dtype !== '<f4') throw new TypeError(`${path}: dtype ${JSON.stringify(header.dtype)}, expected "<f4"`);
  const full = header as PcaHeader;
  const { dimension, components } = full;
  if (!Number.isInteger(dimension) || dimension < 1 || !Number.isInteger(components) || components < 1) {
    throw new TypeError(`${path}: bad shape in header: dimension ${dimension}, components ${components}`);
  }
  if (full.explainedVariance.length !== components || full.explainedVarianceRatio.length !== components) {
    throw new TypeError(`${path}: header has ${full.explainedVariance.length} explained variances for ${components} components`);
  }
  const expected = full.basis.offset + full.basis.bytes;
  if (full.mean.bytes !== dimension * 4 || full.basis.bytes !== dimension * components * 4 || full.basis.offset !== full.mean.offset + full.mean.bytes) {
    throw new TypeError(`${path}: header sections do not match shape (${dimension}, ${components})`);
  }
  if (fileBytes !== expected) throw new TypeError(`${path}: ${fileBytes} bytes, expected ${expected} for a ${dimension} x ${components} basis (truncated or appended to?)`);
  return full;
}

/**
 * Writes a basis file front to back: the mean, then basis rows in feature order, hashing as
 * it goes; `finish` writes the header into the space reserved for it.
 */
export class BasisFileWriter {
  readonly #fd: number;
  readonly #hash: Hash = createHash('sha256');
  #position: number;
  readonly #end: number;
  #closed = false;

  constructor(
    readonly path: string,
    readonly dimension: number,
    readonly components: number,
  ) {
    this.#fd = openSync(path, 'w');
    this.#position = dataOffset(components);
    this.#end = this.#position + dimension * 4 + dimension * components * 4;
  }

  /** Appends float32 data (the mean first, then basis rows in order). */
  write(data: Float32Array): void {
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    if (this.#position + bytes.length > this.#end) throw new RangeError(`${this.path}: writing past the end of the basis`);
    this.#hash.update(bytes);
    let done = 0;
    while (done < bytes.length) {
      done += writeSync(this.#fd, bytes, done, Math.min(bytes.length - done, 1 << 30), this.#position + done);
    }
    this.#position += bytes.length;
  }

  /** Writes the header and closes; returns the complete header. */
  finish(fields: HeaderFields): PcaHeader {
    if (this.#position !== this.#end) throw new Error(`${this.path}: ${this.#end - this.#position} bytes of the basis were never written`);
    const header = completeHeader(fields, this.#hash.digest('hex'));
    const bytes = encodeHeader(header);
    writeSync(this.#fd, bytes, 0, bytes.length, 0);
    fsyncSync(this.#fd);
    this.close();
    return header;
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    closeSync(this.#fd);
  }
}
