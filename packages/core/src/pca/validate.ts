/** Input checks shared by fitting and projection: finite values, with the row named. */

/** A NaN or infinite value in a matrix; `row` and `column` in the caller's numbering. */
export class NonFiniteValueError extends RangeError {
  constructor(
    readonly row: number,
    readonly column: number,
    readonly value: number,
    where: string,
  ) {
    super(`${where}: row ${row} has ${String(value)} at column ${column}; expected finite values (PCA cannot use NaN or Infinity)`);
    this.name = 'NonFiniteValueError';
  }
}

export interface NonFiniteValue {
  readonly row: number;
  readonly column: number;
  readonly value: number;
}

/** The first non-finite value of row-major `data` (rows x columns) in row order, if any. */
export function findNonFinite(data: Float32Array, rows: number, columns: number): NonFiniteValue | undefined {
  for (let r = 0; r < rows; r += 1) {
    // The float64 sum of float32 values is non-finite exactly when one of them is.
    let sum = 0;
    const base = r * columns;
    for (let c = 0; c < columns; c += 1) sum += data[base + c] as number;
    if (Number.isFinite(sum)) continue;
    for (let c = 0; c < columns; c += 1) {
      const value = data[base + c] as number;
      if (!Number.isFinite(value)) return { row: r, column: c, value };
    }
  }
  return undefined;
}
