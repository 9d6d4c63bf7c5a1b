/**
 * The fitting sample as column blocks: all sampled rows, a range of columns at a time. The
 * Gram matrix X X^T needs every row of a column range together, and at conv1 width the
 * sample (5,000 x 3,211,264 float32 = 64 GB) is far larger than memory, so it is read by
 * positional reads of each row's slice of the block (strided reads) straight from the .npy
 * file. Sources that can only return whole rows are gathered into memory when they fit the
 * budget, or else copied once into a temporary row-major file that is then read the same way.
 */
import { closeSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { NpyMatrixReader, parseNpyHeader } from '../npy.js';
import { createRandom } from '../random.js';

/** A matrix readable by row ranges, e.g. an NpyMatrixReader. */
export interface PcaSample {
  readonly rows: number;
  readonly columns: number;
  readRows(start: number, end: number): Float32Array;
  /**
   * Optional: the given rows' values in columns [columnStart, columnEnd), row-major, into
   * `out` (rows.length x (columnEnd - columnStart)). Sources that implement it (or are an
   * NpyMatrixReader) are never copied.
   */
  readColumns?(rows: Int32Array, columnStart: number, columnEnd: number, out: Float32Array): void;
}

/**
 * The rows used for fitting: all of them when there are at most `maxSamples`, else
 * `maxSamples` rows drawn without replacement with createRandom(seed) (partial Fisher-Yates),
 * in ascending order. The same (rows, maxSamples, seed) always gives the same rows.
 */
export function selectSampleRows(rows: number, maxSamples: number, seed: number): Int32Array {
  if (rows <= maxSamples) return Int32Array.from({ length: rows }, (_, i) => i);
  const random = createRandom(seed);
  const pool = Int32Array.from({ length: rows }, (_, i) => i);
  for (let i = 0; i < maxSamples; i += 1) {
    const j = i + Math.floor(random.next() * (rows - i));
    const t = pool[i] as number;
    pool[i] = pool[j] as number;
    pool[j] = t;
  }
  return pool.slice(0, maxSamples).sort();
}

/** Column blocks of the selected rows of the sample. */
export interface ColumnSource {
  /** Selected rows. */
  readonly rows: number;
  readonly columns: number;
  /** Source row index of each selected row. */
  readonly rowIndex: Int32Array;
  /** Bytes of the sample this source holds in memory (a gathered copy), 0 when it reads from a file. */
  readonly residentBytes: number;
  /** Selected rows x columns [start, end), row-major, into `out`. */
  readBlock(start: number, end: number, out: Float32Array): void;
  close(): void;
}

export interface OpenColumnSourceOptions {
  /** Bytes the gathered sample may occupy in memory before it is spilled to a file. */
  readonly memoryBytes: number;
  readonly tempDir: string;
  readonly onGather?: (done: number, total: number) => void;
  readonly signal?: AbortSignal;
}

export function openColumnSource(sample: PcaSample, rowIndex: Int32Array, options: OpenColumnSourceOptions): ColumnSource {
  const columns = sample.columns;
  if (sample.readColumns) {
    const readColumns = sample.readColumns.bind(sample);
    return {
      rows: rowIndex.length,
      columns,
      rowIndex,
      residentBytes: 0,
      readBlock: (start, end, out) => readColumns(rowIndex, start, end, out),
      close: () => undefined,
    };
  }
  if (sample instanceof NpyMatrixReader) return fileColumnSource(sample.path, undefined, rowIndex, columns, false);
  const total = rowIndex.length * columns * 4;
  if (total <= options.memoryBytes) {
    const data = new Float32Array(rowIndex.length * columns);
    gatherRows(sample, rowIndex, options, (row, values) => data.set(values, row * columns));
    return memoryColumnSource(data, rowIndex, columns);
  }
  const dir = mkdtempSync(join(options.tempDir, 'strata-pca-sample-'));
  const path = join(dir, 'sample.f32');
  const fd = openSync(path, 'w+');
  try {
    gatherRows(sample, rowIndex, options, (row, values) => {
      const bytes = new Uint8Array(values.buffer, values.byteOffset, values.byteLength);
      let done = 0;
      while (done < bytes.length) done += writeSync(fd, bytes, done, Math.min(bytes.length - done, 1 << 30), row * columns * 4 + done);
    });
  } catch (error) {
    closeSync(fd);
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return fileColumnSource(path, { fd, dataOffset: 0, removeDir: dir }, rowIndex.map((_, i) => i), columns, true, rowIndex);
}

/** Reads the selected rows in runs of consecutive rows of at most ~64 MiB. */
function gatherRows(sample: PcaSample, rowIndex: Int32Array, options: OpenColumnSourceOptions, put: (row: number, values: Float32Array) => void): void {
  const columns = sample.columns;
  const maxRun = Math.max(1, Math.floor((64 << 20) / (columns * 4)));
  let i = 0;
  while (i < rowIndex.length) {
    options.signal?.throwIfAborted();
    let j = i + 1;
    while (j < rowIndex.length && j - i < maxRun && rowIndex[j] === (rowIndex[j - 1] as number) + 1) j += 1;
    const start = rowIndex[i] as number;
    const values = sample.readRows(start, start + (j - i));
    if (values.length !== (j - i) * columns) {
      throw new RangeError(`sample.readRows(${start}, ${start + j - i}) returned ${values.length} values, expected ${(j - i) * columns}`);
    }
    for (let r = i; r < j; r += 1) put(r, values.subarray((r - i) * columns, (r - i + 1) * columns));
    i = j;
    options.onGather?.(i, rowIndex.length);
  }
}

function memoryColumnSource(data: Float32Array, rowIndex: Int32Array, columns: number): ColumnSource {
  const rows = rowIndex.length;
  return {
    rows,
    columns,
    rowIndex,
    residentBytes: data.byteLength,
    readBlock(start, end, out) {
      const width = end - start;
      if (width === columns) {
        out.set(data);
        return;
      }
      for (let r = 0; r < rows; r += 1) out.set(data.subarray(r * columns + start, r * columns + end), r * width);
    },
    close: () => undefined,
  };
}

interface OpenFile {
  readonly fd: number;
  readonly dataOffset: number;
  readonly removeDir?: string;
}

/**
 * Strided positional reads from a row-major float32 file. `fileRows` are the row numbers in
 * the file; `rowIndex` (reported to callers) the rows of the original sample.
 */
function fileColumnSource(path: string, open: OpenFile | undefined, fileRows: Int32Array, columns: number, owned: boolean, rowIndex = fileRows): ColumnSource {
  let file = open;
  if (!file) {
    const fd = openSync(path, 'r');
    try {
      const probe = new Uint8Array(4096);
      const read = readSync(fd, probe, 0, probe.length, 0);
      file = { fd, dataOffset: parseNpyHeader(probe.subarray(0, read), path).dataOffset };
    } catch (error) {
      closeSync(fd);
      throw error;
    }
  }
  const { fd, dataOffset, removeDir } = file;
  return {
    rows: fileRows.length,
    columns,
    rowIndex,
    residentBytes: 0,
    readBlock(start, end, out) {
      const width = end - start;
      const bytes = new Uint8Array(out.buffer, out.byteOffset, fileRows.length * width * 4);
      for (let r = 0; r < fileRows.length; r += 1) {
        const position = dataOffset + ((fileRows[r] as number) * columns + start) * 4;
        const target = r * width * 4;
        let done = 0;
        while (done < width * 4) {
          const n = readSync(fd, bytes, target + done, width * 4 - done, position + done);
          if (n === 0) throw new Error(`${path}: unexpected end of file reading row ${fileRows[r]}`);
          done += n;
        }
      }
    },
    close() {
      closeSync(fd);
      if (owned && removeDir) rmSync(removeDir, { recursive: true, force: true });
    },
  };
}
