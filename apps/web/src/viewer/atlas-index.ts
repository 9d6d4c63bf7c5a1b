/**
 * Turns the atlas index (atlas.json, docs/mosaic.md: sheets of 32/64/128 px thumbnails in source
 * order) into per-point typed columns for a map, and lays out the overview texture: every
 * level-0 sheet shrunk `factor` times, side by side, so the whole map draws in one pass with one
 * texture however many images it has.
 */
import type { AtlasColumns, AtlasSheet } from './map-data';

export interface AtlasJson {
  readonly format?: string;
  readonly version?: number;
  readonly sheetSize: number;
  readonly tileSizes: readonly number[];
  readonly sheets: readonly { readonly file: string; readonly size: number; readonly width: number; readonly height: number; readonly count?: number }[];
  readonly images: readonly { readonly index: number; readonly id?: string; readonly tiles: readonly { readonly sheet: number; readonly x: number; readonly y: number; readonly w: number; readonly h: number }[] }[];
  readonly failures?: readonly unknown[];
}

/** Overview texel size of a level-0 thumbnail (8 px: 73,000 images fit a 2560 x 2048 texture). */
export const OVERVIEW_TILE = 8;
const MAX_OVERVIEW = 8192;

export function checkAtlas(json: unknown): AtlasJson {
  const atlas = json as AtlasJson;
  if (!atlas || typeof atlas !== 'object' || !Array.isArray(atlas.tileSizes) || !Array.isArray(atlas.sheets) || !Array.isArray(atlas.images)) {
    throw new TypeError('atlas.json is not a Strata atlas index (expected tileSizes, sheets and images)');
  }
  if (atlas.format !== undefined && atlas.format !== 'strata-atlas') throw new TypeError(`atlas.json has format "${atlas.format}"; expected "strata-atlas"`);
  if (atlas.version !== undefined && atlas.version !== 1) throw new TypeError(`atlas.json is version ${atlas.version}; this viewer reads version 1`);
  return atlas;
}

/**
 * Columns for a map whose point p shows the image at source position sourceIndex[p].
 * `sheetKey(file)` names a sheet's texture.
 */
export function atlasColumns(atlas: AtlasJson, sourceIndex: Int32Array, atlasKey: string): AtlasColumns {
  const n = sourceIndex.length;
  const tileSizes = [...atlas.tileSizes];
  const levels = tileSizes.length;
  const levelOfSize = new Map(tileSizes.map((size, level) => [size, level]));
  const sheets: AtlasSheet[] = atlas.sheets.map((sheet) => {
    const level = levelOfSize.get(sheet.size);
    if (level === undefined) throw new TypeError(`atlas sheet ${sheet.file} has size ${sheet.size}, not one of ${tileSizes.join(', ')}`);
    return { key: `${atlasKey}/${sheet.file}`, level, width: sheet.width, height: sheet.height };
  });
  // Source position -> entry of atlas.images.
  let maxIndex = -1;
  for (const image of atlas.images) maxIndex = Math.max(maxIndex, image.index);
  const entryOf = new Int32Array(maxIndex + 1).fill(-1);
  atlas.images.forEach((image, k) => {
    if (image.index >= 0) entryOf[image.index] = k;
  });
  const sheetOf = Array.from({ length: levels }, () => new Int32Array(n).fill(-1));
  const rects = Array.from({ length: levels }, () => new Float32Array(4 * n));
  const counts = new Int32Array(sheets.length + 1);
  for (let p = 0; p < n; p++) {
    const source = sourceIndex[p] as number;
    const entry = source >= 0 && source <= maxIndex ? (entryOf[source] as number) : -1;
    if (entry < 0) continue;
    const tiles = (atlas.images[entry] as AtlasJson['images'][number]).tiles;
    for (let level = 0; level < levels; level++) {
      const tile = tiles[level];
      if (!tile || tile.sheet < 0 || tile.sheet >= sheets.length) continue;
      (sheetOf[level] as Int32Array)[p] = tile.sheet;
      const rect = rects[level] as Float32Array;
      rect[4 * p] = tile.x;
      rect[4 * p + 1] = tile.y;
      rect[4 * p + 2] = tile.w;
      rect[4 * p + 3] = tile.h;
      counts[tile.sheet + 1] = (counts[tile.sheet + 1] as number) + 1;
    }
  }
  const sheetStart = new Int32Array(sheets.length + 1);
  for (let s = 0; s < sheets.length; s++) sheetStart[s + 1] = (sheetStart[s] as number) + (counts[s + 1] as number);
  const fill = sheetStart.slice(0, sheets.length);
  const sheetItems = new Int32Array(sheetStart[sheets.length] as number);
  for (let level = 0; level < levels; level++) {
    const of = sheetOf[level] as Int32Array;
    for (let p = 0; p < n; p++) {
      const s = of[p] as number;
      if (s < 0) continue;
      sheetItems[fill[s] as number] = p;
      fill[s] = (fill[s] as number) + 1;
    }
  }
  // Overview: level-0 sheets shrunk to OVERVIEW_TILE texels per thumbnail, packed in a grid.
  const baseSize = tileSizes[0] ?? 32;
  const factor = Math.max(1, baseSize / OVERVIEW_TILE);
  const base = sheets.map((sheet, index) => ({ sheet, index })).filter(({ sheet }) => sheet.level === 0);
  const slotW = Math.ceil((atlas.sheetSize || 2048) / factor);
  const cols = Math.max(1, Math.min(Math.floor(MAX_OVERVIEW / slotW), Math.ceil(Math.sqrt(base.length))));
  const rows = Math.max(1, Math.ceil(base.length / cols));
  if (rows * slotW > MAX_OVERVIEW) throw new RangeError(`the atlas has ${base.length} level-0 sheets; the overview holds at most ${(MAX_OVERVIEW / slotW) ** 2}`);
  const slots = new Int32Array(3 * base.length);
  const slotOf = new Int32Array(sheets.length).fill(-1);
  base.forEach(({ index }, k) => {
    slots[3 * k] = index;
    slots[3 * k + 1] = (k % cols) * slotW;
    slots[3 * k + 2] = Math.floor(k / cols) * slotW;
    slotOf[index] = k;
  });
  const overviewRects = new Float32Array(4 * n);
  const of0 = sheetOf[0] as Int32Array;
  const rect0 = rects[0] as Float32Array;
  for (let p = 0; p < n; p++) {
    const s = of0[p] as number;
    const k = s >= 0 ? (slotOf[s] as number) : -1;
    if (k < 0) continue;
    overviewRects[4 * p] = (slots[3 * k + 1] as number) + (rect0[4 * p] as number) / factor;
    overviewRects[4 * p + 1] = (slots[3 * k + 2] as number) + (rect0[4 * p + 1] as number) / factor;
    overviewRects[4 * p + 2] = (rect0[4 * p + 2] as number) / factor;
    overviewRects[4 * p + 3] = (rect0[4 * p + 3] as number) / factor;
  }
  return {
    atlasKey,
    tileSizes,
    sheets,
    sheetOf,
    rects,
    sheetStart,
    sheetItems,
    overview: { key: `${atlasKey}/overview`, width: cols * slotW, height: rows * slotW, factor, slots },
    overviewRects,
    failures: atlas.failures?.length ?? 0,
  };
}
