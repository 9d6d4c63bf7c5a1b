/**
 * Reading external RDMs from files:
 * - `.npy`: a square float32/float64 matrix, with its image ids from a separate file;
 * - `.csv`: image ids as the header row and first column (as pandas' `DataFrame.to_csv`
 *   writes a labelled square frame), or a bare numeric square with ids from a separate file.
 * Ids files are a JSON array, a Strata `images.json` ({"rows": [{"id"}]}), or text with one
 * id per line. Only the images kept (all, or a seeded sample of `maxImages`) are held in
 * memory, so a 10,000-image RDM is read row by row, not as 800 MB.
 */
import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import { extname } from 'node:path';
import { createRandom, type RandomSource } from '../random.js';
import { validateRdm, type ExternalRdm, type RdmValidationOptions } from './external-rdm.js';
import { NpyFeatureSource } from './npy-source.js';
import { sampleIndices } from './sample.js';

export interface ReadRdmOptions extends RdmValidationOptions {
  /** Image ids in matrix order: required for .npy and bare CSV, checked against a CSV header. */
  readonly ids?: readonly string[];
  /** Keep at most this many images (a seeded sample, in file order). Default: all. */
  readonly maxImages?: number;
  /** Seed of that sample. Default 0. Ignored when `random` is given. */
  readonly seed?: number;
  readonly random?: RandomSource;
}

/** Reads image ids: a JSON array, an images.json ({"rows": [{"id"}]}), {"ids": [...]}, or one id per line. */
export function readIdsFile(path: string): string[] {
  const text = readFileSync(path, 'utf8');
  const trimmed = text.trim();
  if (trimmed.startsWith('[') || trimmed.startsWith('{')) {
    let parsed: unknown;
    try {
      parsed = JSON.parse(trimmed);
    } catch (error) {
      throw new TypeError(`${path}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
    }
    const list = Array.isArray(parsed)
      ? parsed
      : Array.isArray((parsed as { rows?: unknown }).rows)
        ? ((parsed as { rows: unknown[] }).rows.map((row) => (row as { id?: unknown })?.id))
        : (parsed as { ids?: unknown }).ids;
    if (!Array.isArray(list)) throw new TypeError(`${path}: expected a JSON array of ids, {"ids": [...]}, or a Strata images.json with "rows"`);
    return list.map((id, i) => {
      if (typeof id === 'string') return id;
      if (typeof id === 'number' && Number.isFinite(id)) return String(id);
      throw new TypeError(`${path}: id ${i} is ${JSON.stringify(id)}; expected a string or number`);
    });
  }
  return text
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '');
}

function keptPositions(size: number, options: ReadRdmOptions): Int32Array {
  const max = options.maxImages;
  if (max === undefined || max >= size) return Int32Array.from({ length: size }, (_, i) => i);
  if (!Number.isInteger(max) || max < 3) throw new RangeError(`maxImages must be an integer >= 3, got ${max}`);
  return sampleIndices(size, max, options.random ?? createRandom(options.seed ?? 0));
}

function readNpyRdm(path: string, options: ReadRdmOptions): ExternalRdm {
  const source = new NpyFeatureSource(path, { transposeFortran: true });
  try {
    if (source.rows !== source.columns) throw new RangeError(`${path}: shape (${source.rows}, ${source.columns}); an RDM must be square (images x images)`);
    const ids = options.ids;
    if (!ids) throw new TypeError(`${path}: a .npy RDM has no image ids; give them (e.g. --ids ids.json, one per row in matrix order)`);
    if (ids.length !== source.rows) throw new RangeError(`${path}: ${ids.length} ids for a ${source.rows} x ${source.rows} RDM; expected one id per row`);
    const keep = keptPositions(source.rows, options);
    const m = keep.length;
    const values = new Float64Array(m * m);
    for (let i = 0; i < m; i++) {
      const row = source.read(keep[i] as number, (keep[i] as number) + 1, 0, source.columns);
      for (let j = 0; j < m; j++) values[i * m + j] = row[keep[j] as number] as number;
    }
    return validateRdm(values, m, Array.from(keep, (p) => ids[p] as string), path, options);
  } finally {
    source.close();
  }
}

/** Splits one CSV line into cells; double-quoted cells may hold commas and "" for a quote. */
export function parseCsvLine(line: string): string[] {
  const cells: string[] = [];
  let i = 0;
  for (;;) {
    if (line[i] === '"') {
      let cell = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new TypeError(`unterminated quoted cell in CSV line starting ${JSON.stringify(line.slice(0, 40))}`);
        cell += line.slice(i, q);
        if (line[q + 1] === '"') {
          cell += '"';
          i = q + 2;
        } else {
          i = q + 1;
          break;
        }
      }
      cells.push(cell);
    } else {
      const comma = line.indexOf(',', i);
      cells.push((comma < 0 ? line.slice(i) : line.slice(i, comma)).trim());
      i = comma < 0 ? line.length : comma;
    }
    if (line[i] !== ',') break;
    i++;
  }
  return cells;
}

/** Lines of a text file, read in 1 MiB chunks (a 10,000 x 10,000 CSV is too big for one string). */
function* lines(path: string): Generator<string> {
  const fd = openSync(path, 'r');
  try {
    const buffer = Buffer.alloc(1 << 20);
    let rest = '';
    for (;;) {
      const n = readSync(fd, buffer, 0, buffer.length, null);
      if (n === 0) break;
      const text = rest + buffer.toString('utf8', 0, n);
      const parts = text.split('\n');
      rest = parts.pop() ?? '';
      for (const part of parts) yield part.endsWith('\r') ? part.slice(0, -1) : part;
    }
    if (rest !== '') yield rest.endsWith('\r') ? rest.slice(0, -1) : rest;
  } finally {
    closeSync(fd);
  }
}

function readCsvRdm(path: string, options: ReadRdmOptions): ExternalRdm {
  const iterator = lines(path);
  let lineNumber = 0;
  const next = (): string | undefined => {
    for (;;) {
      const result = iterator.next();
      if (result.done) return undefined;
      lineNumber++;
      if (result.value.trim() !== '') return result.value;
    }
  };
  const first = next();
  if (first === undefined) throw new TypeError(`${path}: empty file; expected an RDM`);
  const firstCells = parseCsvLine(first);
  // A labelled CSV starts with a corner cell that is not a number (empty, or a label such as "image").
  const labelled = firstCells[0] === '' || !Number.isFinite(Number(firstCells[0]));
  let ids: readonly string[];
  let pending: string | undefined;
  if (labelled) {
    ids = firstCells.slice(1);
    if (options.ids && (options.ids.length !== ids.length || options.ids.some((id, i) => id !== ids[i]))) {
      const at = options.ids.findIndex((id, i) => id !== ids[i]);
      throw new RangeError(`${path}: the header's ids differ from the given ids file (${ids.length} vs ${options.ids.length} ids; first difference at position ${at}: ${JSON.stringify(ids[at])} vs ${JSON.stringify(options.ids[at])})`);
    }
  } else {
    if (!options.ids) throw new TypeError(`${path}: no header row of image ids; add one (first cell empty, then the ids) or give the ids separately (--ids)`);
    ids = options.ids;
    pending = first;
  }
  const size = ids.length;
  if (!labelled && firstCells.length !== size) throw new RangeError(`${path}: line 1 has ${firstCells.length} values but ${size} ids were given; an RDM must be square`);
  const keep = keptPositions(size, options);
  const slot = new Int32Array(size).fill(-1);
  keep.forEach((position, i) => {
    slot[position] = i;
  });
  const m = keep.length;
  const values = new Float64Array(m * m);
  let row = 0;
  for (let line = pending ?? next(); line !== undefined; line = next()) {
    if (row >= size) throw new RangeError(`${path}: more than ${size} data rows for ${size} ids (line ${lineNumber}); an RDM must be square`);
    const target = slot[row] as number;
    if (target >= 0 || labelled) {
      const cells = parseCsvLine(line);
      const offset = labelled ? 1 : 0;
      if (cells.length !== size + offset) {
        throw new RangeError(`${path}: line ${lineNumber} has ${cells.length - offset} values, expected ${size} (one per image); an RDM must be square`);
      }
      if (labelled && cells[0] !== ids[row]) {
        throw new RangeError(`${path}: line ${lineNumber} is labelled ${JSON.stringify(cells[0])} but column ${row + 1} is ${JSON.stringify(ids[row])}; rows and columns must list the images in the same order`);
      }
      if (target >= 0) {
        for (let j = 0; j < m; j++) {
          const text = cells[(keep[j] as number) + offset] as string;
          const value = text === '' ? NaN : Number(text);
          if (!Number.isFinite(value)) {
            throw new RangeError(`${path}: line ${lineNumber}, column for image ${JSON.stringify(ids[keep[j] as number])}: ${JSON.stringify(text)} is not a finite number`);
          }
          values[target * m + j] = value;
        }
      }
    }
    row++;
  }
  if (row !== size) throw new RangeError(`${path}: ${row} data rows for ${size} image ids; an RDM must be square`);
  return validateRdm(values, m, Array.from(keep, (p) => ids[p] as string), path, options);
}

/** Reads and validates an external RDM (.npy or .csv); see the file comment for the formats. */
export function readRdmFile(path: string, options: ReadRdmOptions = {}): ExternalRdm {
  const extension = extname(path).toLowerCase();
  switch (extension) {
    case '.npy':
      return readNpyRdm(path, options);
    case '.csv':
      return readCsvRdm(path, options);
    default:
      throw new TypeError(`${path}: unsupported RDM file type "${extension}"; expected .npy (with ids) or .csv`);
  }
}
