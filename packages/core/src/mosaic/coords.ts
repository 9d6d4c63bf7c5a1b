/**
 * Inputs of a map from files: t-SNE coordinates as a .npy matrix (float32 or float64, whose
 * precision the recipe's normalisation inherits) and the row -> image mapping that extraction
 * writes to images.json (rows skip images that could not be read).
 */
import { readFileSync } from 'node:fs';

import { parseNpyHeader } from '../npy.js';
import type { CoordinateArray } from './layout.js';

export interface Coordinates {
  /** Interleaved (x, y) of each row: the first two columns of the matrix, in its own dtype. */
  readonly data: CoordinateArray;
  readonly n: number;
  readonly dtype: 'float32' | 'float64';
}

/** Reads an (N, k >= 2) float32 or float64 .npy, keeping columns 0 and 1 and their dtype. */
export function readCoordinates(path: string): Coordinates {
  const bytes = readFileSync(path);
  const header = parseNpyHeader(bytes, path);
  const dtypes: Record<string, 'float32' | 'float64'> = { '<f4': 'float32', '<f8': 'float64' };
  const dtype = dtypes[header.dtype];
  if (dtype === undefined) {
    throw new TypeError(`${path}: dtype '${header.dtype}', expected little-endian float32 ('<f4') or float64 ('<f8')`);
  }
  if (header.fortranOrder) throw new TypeError(`${path}: Fortran-ordered array, expected C order (np.ascontiguousarray)`);
  const [n, k] = header.shape;
  if (header.shape.length !== 2 || n === undefined || k === undefined || k < 2) {
    throw new TypeError(`${path}: shape (${header.shape.join(', ')}), expected (N, 2): one row of x, y per image`);
  }
  const size = dtype === 'float32' ? 4 : 8;
  const needed = header.dataOffset + n * k * size;
  if (bytes.length < needed) throw new TypeError(`${path}: file is ${bytes.length} bytes, shape (${n}, ${k}) needs ${needed}: truncated`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const data = dtype === 'float32' ? new Float32Array(2 * n) : new Float64Array(2 * n);
  for (let i = 0; i < n; i++) {
    for (let c = 0; c < 2; c++) {
      const offset = header.dataOffset + (i * k + c) * size;
      data[2 * i + c] = dtype === 'float32' ? view.getFloat32(offset, true) : view.getFloat64(offset, true);
    }
  }
  return { data, n, dtype };
}

export interface ImageRows {
  /** Source image index of each row. */
  readonly indices: Int32Array;
  /** Source image id of each row, to check that the rows belong to the images given. */
  readonly ids: readonly string[];
}

/** Reads `{ rows: [{ index, id }, ...] }`, the images.json that `strata extract` writes. */
export function readImageRows(path: string): ImageRows {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (error) {
    throw new TypeError(`${path}: not readable JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  const rows = (parsed as { rows?: unknown } | null)?.rows;
  if (!Array.isArray(rows)) throw new TypeError(`${path}: expected { "rows": [{ "index": ..., "id": ... }, ...] } as written by strata extract`);
  const indices = new Int32Array(rows.length);
  const ids: string[] = [];
  rows.forEach((row: unknown, i) => {
    const { index, id } = (row ?? {}) as { index?: unknown; id?: unknown };
    if (typeof index !== 'number' || !Number.isInteger(index) || index < 0 || typeof id !== 'string') {
      throw new TypeError(`${path}: row ${i} is ${JSON.stringify(row)}, expected { "index": <integer >= 0>, "id": <string> }`);
    }
    indices[i] = index;
    ids.push(id);
  });
  return { indices, ids };
}
