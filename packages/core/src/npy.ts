/**
 * NumPy .npy files (format 1.0, little-endian float32, C order), written row by row so
 * that a matrix far larger than memory can be produced as it is computed, and read back
 * whole or in row ranges.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, openSync, readSync, writeSync } from 'node:fs';

const MAGIC = Uint8Array.of(0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59); // \x93NUMPY
/**
 * Writers reserve a fixed header so the final row count can be written in place when
 * the run ends (it is unknown while bad images may still be skipped).
 */
const WRITER_HEADER_BYTES = 128;

export interface NpyHeader {
  readonly shape: readonly number[];
  readonly dtype: string;
  readonly fortranOrder: boolean;
  /** Byte offset of the first element. */
  readonly dataOffset: number;
}

function encodeHeader(shape: readonly number[], totalBytes: number): Uint8Array {
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  const dict = `{'descr': '<f4', 'fortran_order': False, 'shape': ${shapeText}, }`;
  const prefixBytes = MAGIC.length + 2 + 2;
  const padding = totalBytes - prefixBytes - dict.length - 1;
  if (padding < 0) throw new RangeError(`npy header for shape ${shapeText} does not fit in ${totalBytes} bytes`);
  const header = new Uint8Array(totalBytes);
  header.set(MAGIC, 0);
  header[6] = 1; // format version 1.0
  header[7] = 0;
  new DataView(header.buffer).setUint16(8, totalBytes - prefixBytes, true);
  header.set(Buffer.from(dict + ' '.repeat(padding) + '\n', 'latin1'), prefixBytes);
  return header;
}

/** Encodes a whole float32 matrix as .npy bytes (for small results). */
export function encodeNpy(data: Float32Array, shape: readonly number[]): Uint8Array {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new RangeError(`shape [${shape.join(', ')}] holds ${count} values, data has ${data.length}`);
  const dictLength = 70 + shape.join(', ').length;
  const headerBytes = Math.ceil((10 + dictLength + 1) / 64) * 64;
  const out = new Uint8Array(headerBytes + data.byteLength);
  out.set(encodeHeader(shape, headerBytes), 0);
  out.set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength), headerBytes);
  return out;
}

export function parseNpyHeader(bytes: Uint8Array, source = 'npy data'): NpyHeader {
  for (let i = 0; i < MAGIC.length; i++) {
    if (bytes[i] !== MAGIC[i]) throw new TypeError(`${source}: not a .npy file (bad magic)`);
  }
  const major = bytes[6];
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let headerLength: number;
  let start: number;
  if (major === 1) {
    headerLength = view.getUint16(8, true);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLength = view.getUint32(8, true);
    start = 12;
  } else {
    throw new TypeError(`${source}: unsupported .npy format version ${String(major)}`);
  }
  if (bytes.length < start + headerLength) throw new TypeError(`${source}: truncated .npy header`);
  const text = Buffer.from(bytes.subarray(start, start + headerLength)).toString('latin1');
  const descr = /'descr':\s*'([^']+)'/.exec(text)?.[1];
  const fortran = /'fortran_order':\s*(True|False)/.exec(text)?.[1];
  const shapeText = /'shape':\s*\(([^)]*)\)/.exec(text)?.[1];
  if (descr === undefined || fortran === undefined || shapeText === undefined) {
    throw new TypeError(`${source}: malformed .npy header ${JSON.stringify(text.trim())}`);
  }
  const shape = shapeText
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .map(Number);
  return { shape, dtype: descr, fortranOrder: fortran === 'True', dataOffset: start + headerLength };
}

function readHeaderFromFd(fd: number, path: string): NpyHeader {
  const probe = new Uint8Array(4096);
  const read = readSync(fd, probe, 0, probe.length, 0);
  return parseNpyHeader(probe.subarray(0, read), path);
}

/** A float32 matrix stored as .npy: its shape, and reads of row ranges without loading it all. */
export class NpyMatrixReader {
  readonly rows: number;
  readonly columns: number;
  readonly #fd: number;
  readonly #dataOffset: number;

  constructor(readonly path: string) {
    this.#fd = openSync(path, 'r');
    try {
      const header = readHeaderFromFd(this.#fd, path);
      if (header.dtype !== '<f4') {
        throw new TypeError(`${path}: dtype ${header.dtype}, expected float32 ('<f4'); convert with arr.astype(np.float32)`);
      }
      if (header.fortranOrder) throw new TypeError(`${path}: Fortran-ordered array, expected C order`);
      if (header.shape.length !== 2) {
        throw new TypeError(`${path}: shape (${header.shape.join(', ')}), expected a 2-D matrix (rows, features)`);
      }
      const [rows, columns] = header.shape as [number, number];
      const size = fstatSync(this.#fd).size;
      const expected = header.dataOffset + rows * columns * 4;
      if (size < expected) throw new TypeError(`${path}: file is ${size} bytes, shape (${rows}, ${columns}) needs ${expected}: truncated`);
      this.rows = rows;
      this.columns = columns;
      this.#dataOffset = header.dataOffset;
    } catch (error) {
      closeSync(this.#fd);
      throw error;
    }
  }

  /** Rows [start, end) as one Float32Array (row-major). */
  readRows(start: number, end: number, out?: Float32Array): Float32Array {
    if (start < 0 || end > this.rows || start > end) {
      throw new RangeError(`${this.path}: rows [${start}, ${end}) outside [0, ${this.rows})`);
    }
    const result = out ?? new Float32Array((end - start) * this.columns);
    const bytes = new Uint8Array(result.buffer, result.byteOffset, (end - start) * this.columns * 4);
    let done = 0;
    while (done < bytes.length) {
      const n = readSync(this.#fd, bytes, done, Math.min(bytes.length - done, 1 << 30), this.#dataOffset + start * this.columns * 4 + done);
      if (n === 0) throw new Error(`${this.path}: unexpected end of file`);
      done += n;
    }
    return result;
  }

  readAll(): Float32Array {
    return this.readRows(0, this.rows);
  }

  close(): void {
    closeSync(this.#fd);
  }
}

/** Reads a whole 2-D float32 .npy file. */
export function readNpyMatrix(path: string): { data: Float32Array; rows: number; columns: number } {
  const reader = new NpyMatrixReader(path);
  try {
    return { data: reader.readAll(), rows: reader.rows, columns: reader.columns };
  } finally {
    reader.close();
  }
}

/**
 * Appends float32 rows of a fixed width to a .npy file. The header's row count is written
 * by `finish()`; until then the file's length, not its header, says how many rows are in.
 * `open` with `resumeRows` truncates to that many rows and continues after them.
 */
export class NpyRowWriter {
  readonly #fd: number;
  #rows: number;

  private constructor(
    readonly path: string,
    readonly columns: number,
    fd: number,
    rows: number,
  ) {
    this.#fd = fd;
    this.#rows = rows;
  }

  static create(path: string, columns: number): NpyRowWriter {
    const fd = openSync(path, 'w');
    writeSync(fd, encodeHeader([0, columns], WRITER_HEADER_BYTES), 0, WRITER_HEADER_BYTES, 0);
    return new NpyRowWriter(path, columns, fd, 0);
  }

  /** Reopens a file written by this class, keeping its first `rows` rows. */
  static resume(path: string, columns: number, rows: number): NpyRowWriter {
    const fd = openSync(path, 'r+');
    const size = fstatSync(fd).size;
    const keep = WRITER_HEADER_BYTES + rows * columns * 4;
    if (size < keep) {
      closeSync(fd);
      throw new Error(`${path}: ${size} bytes on disk but the checkpoint says ${rows} rows of ${columns} (${keep} bytes); the output folder was changed outside Strata`);
    }
    ftruncateSync(fd, keep);
    return new NpyRowWriter(path, columns, fd, rows);
  }

  get rows(): number {
    return this.#rows;
  }

  /** Appends `data.length / columns` rows. */
  append(data: Float32Array): void {
    if (data.length % this.columns !== 0) {
      throw new RangeError(`${this.path}: ${data.length} values is not a whole number of rows of ${this.columns}`);
    }
    const bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    const position = WRITER_HEADER_BYTES + this.#rows * this.columns * 4;
    let done = 0;
    while (done < bytes.length) {
      done += writeSync(this.#fd, bytes, done, Math.min(bytes.length - done, 1 << 30), position + done);
    }
    this.#rows += data.length / this.columns;
  }

  /** Flushes to disk, so that a checkpoint written after it never points past real data. */
  sync(): void {
    fsyncSync(this.#fd);
  }

  /** Writes the final row count into the header and closes the file. */
  finish(): void {
    writeSync(this.#fd, encodeHeader([this.#rows, this.columns], WRITER_HEADER_BYTES), 0, WRITER_HEADER_BYTES, 0);
    fsyncSync(this.#fd);
    closeSync(this.#fd);
  }

  close(): void {
    closeSync(this.#fd);
  }
}
