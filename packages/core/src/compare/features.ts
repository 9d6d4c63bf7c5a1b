/**
 * How comparison code reads a layer's features: a matrix in memory, or any source that can
 * hand out a block of rows x columns on request (a .npy file, later a database table). Only
 * blocks are ever asked for, so a layer far larger than memory can be compared.
 */

/** An N x D matrix, row-major, one row per image. */
export interface FeatureMatrix {
  readonly data: Float32Array | Float64Array;
  readonly rows: number;
  readonly columns: number;
}

/**
 * A readable N x D matrix; `read` returns rows [rowStart, rowEnd) x columns [colStart, colEnd),
 * row-major, at once (a file) or as a promise (a database).
 */
export interface FeatureSource {
  readonly rows: number;
  readonly columns: number;
  read(rowStart: number, rowEnd: number, colStart: number, colEnd: number): Float32Array | Float64Array | Promise<Float32Array | Float64Array>;
  /**
   * Optional: rows `rows[i]` (any order) x columns [colStart, colEnd) in one call, row i at
   * offset i * width. A source where each read costs a round trip (a database) gathers a
   * sample of scattered rows this way instead of one read per row.
   */
  readRows?(rows: Int32Array, colStart: number, colEnd: number): Promise<Float32Array | Float64Array>;
}

/** What the comparison functions accept for one layer. */
export type FeatureInput = FeatureMatrix | FeatureSource;

/** A layer with a name, as given to the layer x layer and brain comparisons. */
export interface NamedFeatures {
  readonly name: string;
  readonly features: FeatureInput;
}

function isSource(input: FeatureInput): input is FeatureSource {
  return typeof (input as Partial<FeatureSource>).read === 'function';
}

/** A source whose reads return at once: in-memory matrices (toSource) and .npy files. */
export interface SyncFeatureSource extends FeatureSource {
  read(rowStart: number, rowEnd: number, colStart: number, colEnd: number): Float32Array | Float64Array;
}

/** Wraps an in-memory matrix as a source, after checking that its size matches its data. */
export function toSource(input: FeatureMatrix, label?: string): SyncFeatureSource;
export function toSource(input: FeatureInput, label?: string): FeatureSource;
export function toSource(input: FeatureInput, label = 'features'): FeatureSource {
  if (isSource(input)) return input;
  const { data, rows, columns } = input;
  if (!Number.isInteger(rows) || !Number.isInteger(columns) || rows < 0 || columns < 1) {
    throw new RangeError(`${label}: shape ${rows} x ${columns}; expected a whole number of rows and at least one column`);
  }
  if (data.length !== rows * columns) {
    throw new RangeError(`${label}: ${rows} x ${columns} needs ${rows * columns} values, data has ${data.length}`);
  }
  return {
    rows,
    columns,
    read(rowStart, rowEnd, colStart, colEnd) {
      if (colStart === 0 && colEnd === columns) return data.subarray(rowStart * columns, rowEnd * columns);
      const width = colEnd - colStart;
      const out = new Float64Array((rowEnd - rowStart) * width);
      for (let r = rowStart; r < rowEnd; r++) {
        const from = r * columns + colStart;
        for (let c = 0; c < width; c++) out[(r - rowStart) * width + c] = data[from + c] as number;
      }
      return out;
    },
  };
}

/** Raised for a NaN or infinite feature: names the layer, the row (image) and the column. */
export class NonFiniteFeatureError extends RangeError {
  constructor(
    readonly label: string,
    readonly row: number,
    readonly column: number,
    readonly value: number,
  ) {
    super(`${label}: row ${row} has ${String(value)} at column ${column}; expected finite values (drop or fix that image)`);
    this.name = 'NonFiniteFeatureError';
  }
}

/**
 * Copies rows `rowIds[i]` (columns [colStart, colEnd)) of a source into `out` as float64,
 * row i at offset i * width, and refuses NaN or Inf naming the source row. Consecutive ids
 * are read as one block so a file source does few reads.
 */
export async function readRowsInto(
  source: FeatureSource,
  rowIds: Int32Array | null,
  rowStart: number,
  count: number,
  colStart: number,
  colEnd: number,
  out: Float64Array,
  label: string,
): Promise<void> {
  const width = colEnd - colStart;
  if (rowIds && source.readRows) {
    const wanted = rowIds.subarray(0, count);
    const block = await source.readRows(wanted, colStart, colEnd);
    if (block.length !== count * width) {
      throw new RangeError(`${label}: read of ${count} rows x columns [${colStart}, ${colEnd}) returned ${block.length} values, expected ${count * width}`);
    }
    for (let j = 0; j < block.length; j++) {
      const value = block[j] as number;
      if (!Number.isFinite(value)) throw new NonFiniteFeatureError(label, wanted[Math.floor(j / width)] as number, colStart + (j % width), value);
      out[j] = value;
    }
    return;
  }
  let i = 0;
  while (i < count) {
    const first = rowIds ? (rowIds[i] as number) : rowStart + i;
    let run = 1;
    if (rowIds) {
      while (i + run < count && rowIds[i + run] === first + run && run < 4096) run++;
    } else {
      run = count - i;
    }
    const block = await source.read(first, first + run, colStart, colEnd);
    if (block.length !== run * width) {
      throw new RangeError(`${label}: read of rows [${first}, ${first + run}) x columns [${colStart}, ${colEnd}) returned ${block.length} values, expected ${run * width}`);
    }
    const base = i * width;
    for (let j = 0; j < block.length; j++) {
      const value = block[j] as number;
      if (!Number.isFinite(value)) {
        const rowInBlock = Math.floor(j / width);
        throw new NonFiniteFeatureError(label, first + rowInBlock, colStart + (j % width), value);
      }
      out[base + j] = value;
    }
    i += run;
  }
}

/** Checks that every layer has the same number of rows (images), naming the odd one out. */
export function checkSameRows(layers: readonly { name: string; source: FeatureSource }[]): number {
  const first = layers[0];
  if (!first) throw new RangeError('no layers given; expected at least one');
  for (const layer of layers) {
    if (layer.source.rows !== first.source.rows) {
      throw new RangeError(
        `${layer.name} has ${layer.source.rows} rows but ${first.name} has ${first.source.rows}; ` +
          'every layer must hold the same images in the same order',
      );
    }
  }
  return first.source.rows;
}
