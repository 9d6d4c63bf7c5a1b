/**
 * Where the t-SNE mosaic recipe puts each image, computed with the recipe's own arithmetic:
 *
 *     tx = (tx - np.min(tx)) / (np.max(tx) - np.min(tx))       # in the array's dtype
 *     rs = max(1, tile.width / max_dim, tile.height / max_dim)  # Python floats
 *     tile = tile.resize((int(tile.width / rs), int(tile.height / rs)), Image.ANTIALIAS)
 *     full_image.paste(tile, (int((width - max_dim) * x), int((height - max_dim) * y)), ...)
 *
 * For a float32 .npy the normalisation happens in float32: numpy keeps `array - float32 scalar`
 * and `array / float32 scalar` in float32, each result rounded to float32 (Math.fround here;
 * float32 +, -, / done in double and rounded once are exactly float32 operations). Iterating
 * the array yields np.float32 scalars, and NumPy 1.x promotes `python int * np.float32 scalar`
 * to float64 (scalar-only operands use plain type promotion), so the product is the exact
 * double product before int() truncates it. NumPy 2 (NEP 50) keeps that product in float32;
 * `productPrecision: 'float32'` reproduces that.
 */

/** Interleaved (x, y) per point, as the t-SNE engine and a (N, 2) .npy give them. */
export type CoordinateArray = Float32Array | Float64Array;

export interface RecipeLayoutOptions {
  /** Canvas width in pixels. Default 4000. */
  readonly width?: number;
  /** Canvas height in pixels. Default 3000. */
  readonly height?: number;
  /** `max_dim`: the longest side of a tile. Default 100. */
  readonly tile?: number;
  /**
   * Precision of `(width - max_dim) * x`: 'float64' as NumPy 1.x computes it (the reference,
   * Debian's 1.24), or 'float32' as NumPy >= 2 does. Default 'float64'. No difference for
   * float64 coordinates.
   */
  readonly productPrecision?: 'float64' | 'float32';
}

export const DEFAULT_MOSAIC_WIDTH = 4000;
export const DEFAULT_MOSAIC_HEIGHT = 3000;
export const DEFAULT_TILE = 100;

export function checkCoordinates(coords: CoordinateArray, n: number): void {
  if (!(coords instanceof Float32Array || coords instanceof Float64Array)) {
    throw new TypeError(`coordinates must be a Float32Array or Float64Array of interleaved (x, y), got ${Object.prototype.toString.call(coords)}`);
  }
  if (!Number.isInteger(n) || n < 0) throw new RangeError(`n must be a non-negative integer, got ${String(n)}`);
  if (coords.length !== 2 * n) {
    throw new RangeError(`coordinates hold ${coords.length} values, expected 2 x ${n} = ${2 * n} (interleaved x, y)`);
  }
}

export function checkDimension(name: string, value: number, min = 1): void {
  if (!Number.isSafeInteger(value) || value < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${String(value)}`);
}

/**
 * `(v - min(v)) / (max(v) - min(v))` for one axis (0 = x, 1 = y), in the precision of the
 * array. NaN anywhere, or all values equal (0 / 0), is refused: the recipe would crash in
 * `int(nan)` with "cannot convert float NaN to integer".
 */
export function normalizeAxis(coords: CoordinateArray, n: number, axis: 0 | 1): Float64Array {
  checkCoordinates(coords, n);
  const single = coords instanceof Float32Array;
  const name = axis === 0 ? 'x' : 'y';
  let min = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let i = 0; i < n; i++) {
    const v = coords[2 * i + axis] ?? Number.NaN;
    if (Number.isNaN(v)) throw new RangeError(`coordinate ${name} of point ${i} is NaN; the map needs finite coordinates`);
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (!Number.isFinite(min) || !Number.isFinite(max)) {
    throw new RangeError(`${name} coordinates span [${min}, ${max}]; the map needs finite coordinates`);
  }
  const out = new Float64Array(n);
  if (single) {
    const range = Math.fround(max - min);
    if (range === 0 || !Number.isFinite(range)) {
      throw new RangeError(`all ${n} ${name} coordinates span [${min}, ${max}] (range ${range} in float32); cannot normalise, the recipe would divide by it`);
    }
    for (let i = 0; i < n; i++) out[i] = Math.fround(Math.fround((coords[2 * i + axis] ?? 0) - min) / range);
  } else {
    const range = max - min;
    if (range === 0 || !Number.isFinite(range)) {
      throw new RangeError(`all ${n} ${name} coordinates span [${min}, ${max}]; cannot normalise, the recipe would divide by it`);
    }
    for (let i = 0; i < n; i++) out[i] = ((coords[2 * i + axis] ?? 0) - min) / range;
  }
  return out;
}

/**
 * Top-left paste position of each point, interleaved (x, y): `int((width - tile) * tx)`.
 * Positions may be negative or past the edge when the tile is larger than the canvas; pasting
 * clips, as PIL's paste does.
 */
export function recipePositions(coords: CoordinateArray, n: number, options: RecipeLayoutOptions = {}): Int32Array {
  const width = options.width ?? DEFAULT_MOSAIC_WIDTH;
  const height = options.height ?? DEFAULT_MOSAIC_HEIGHT;
  const tile = options.tile ?? DEFAULT_TILE;
  checkDimension('width', width);
  checkDimension('height', height);
  checkDimension('tile', tile);
  const precision = options.productPrecision ?? 'float64';
  if (precision !== 'float64' && precision !== 'float32') {
    throw new RangeError(`productPrecision must be 'float64' or 'float32', got '${String(precision)}'`);
  }
  const tx = normalizeAxis(coords, n, 0);
  const ty = normalizeAxis(coords, n, 1);
  // NumPy 2 rounds the product to float32 only when the coordinates are float32.
  const round = precision === 'float32' && coords instanceof Float32Array ? Math.fround : (v: number): number => v;
  const spanX = width - tile;
  const spanY = height - tile;
  const out = new Int32Array(2 * n);
  for (let i = 0; i < n; i++) {
    // Python's int() truncates toward zero.
    out[2 * i] = Math.trunc(round(spanX * (tx[i] ?? 0)));
    out[2 * i + 1] = Math.trunc(round(spanY * (ty[i] ?? 0)));
  }
  return out;
}

/**
 * The recipe's tile size for an image: `rs = max(1, w / tile, h / tile)`, then
 * `(int(w / rs), int(h / rs))`. Done in doubles like Python, so 512 / (512 / 100) may come out
 * as 99.99999999999999 and truncate to 99, exactly as the recipe does.
 */
export function recipeTileSize(width: number, height: number, tile: number): { width: number; height: number } {
  const rs = Math.max(1, width / tile, height / tile);
  // A tile of 0 pixels would make PIL raise; it only happens for extreme aspect ratios.
  const w = Math.trunc(width / rs);
  const h = Math.trunc(height / rs);
  if (w < 1 || h < 1) {
    throw new RangeError(`an image of ${width}x${height} becomes a ${w}x${h} tile at --tile ${tile}; PIL cannot resize to an empty image`);
  }
  return { width: w, height: h };
}
