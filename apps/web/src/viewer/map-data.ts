/**
 * A map as the viewer holds it: parallel typed columns, one row per point (map order = draw
 * order, later points on top), plus the atlas columns that say where each point's thumbnail is
 * at each level of detail. Built by the map worker and transferred to the page.
 */
import type { PointGridData } from './point-grid';

export interface AtlasSheet {
  /** Key shared by every map of the same atlas (textures are shared between panes). */
  readonly key: string;
  /** Level of detail (index into tileSizes). */
  readonly level: number;
  readonly width: number;
  readonly height: number;
}

export interface OverviewLayout {
  /** Key of the overview texture (one per atlas). */
  readonly key: string;
  readonly width: number;
  readonly height: number;
  /** Level-0 pixels per overview pixel. */
  readonly factor: number;
  /** Where each level-0 sheet goes in the overview: [sheet, x, y] triples. */
  readonly slots: Int32Array;
}

export interface AtlasColumns {
  readonly atlasKey: string;
  /** Thumbnail sizes, ascending (32, 64, 128 by default). */
  readonly tileSizes: readonly number[];
  readonly sheets: readonly AtlasSheet[];
  /** Per level: each point's sheet (global index), -1 when the atlas has no thumbnail for it. */
  readonly sheetOf: readonly Int32Array[];
  /** Per level: each point's thumbnail rectangle in its sheet, [x, y, w, h] texels. */
  readonly rects: readonly Float32Array[];
  /** Points grouped by sheet: sheetItems[sheetStart[s]..sheetStart[s+1]] (all levels together). */
  readonly sheetStart: Int32Array;
  readonly sheetItems: Int32Array;
  readonly overview: OverviewLayout;
  /** Each point's rectangle in the overview texture, [x, y, w, h]. */
  readonly overviewRects: Float32Array;
  /** Images the atlas could not read. */
  readonly failures: number;
}

export interface MapData {
  /** Identifies this map (dataset, layer, perplexity, seed), and its alignment. */
  readonly key: string;
  readonly count: number;
  /** Image ids of the API, per point. */
  readonly imageIds: Int32Array;
  /** Position of each point's image in its dataset (source order), -1 when unknown. */
  readonly sourceIndex: Int32Array;
  /** Each point's source id (HDF5 row number or relative path), '' when unknown. */
  readonly sourceIds: readonly string[];
  /** Coordinates as the API stores them (t-SNE units). */
  readonly rawX: Float32Array;
  readonly rawY: Float32Array;
  /** Display coordinates: normalized into about [-0.5, 0.5], or aligned onto another map. */
  readonly x: Float32Array;
  readonly y: Float32Array;
  /** Side of a thumbnail, display units. */
  readonly tile: number;
  readonly grid: PointGridData;
  readonly atlas: AtlasColumns | null;
  /** Procrustes disparity to the map it was aligned onto (null when not aligned). */
  readonly disparity: number | null;
}

/** Every transferable buffer of a MapData (for postMessage's transfer list). */
export function buffersOf(data: MapData): ArrayBuffer[] {
  const arrays: ArrayBufferView[] = [data.imageIds, data.sourceIndex, data.rawX, data.rawY, data.x, data.y, data.grid.cellStart, data.grid.items];
  if (data.atlas) {
    arrays.push(...data.atlas.sheetOf, ...data.atlas.rects, data.atlas.sheetStart, data.atlas.sheetItems, data.atlas.overview.slots, data.atlas.overviewRects);
  }
  const unique = new Set<ArrayBuffer>();
  for (const array of arrays) if (array.buffer instanceof ArrayBuffer && array.byteLength > 0) unique.add(array.buffer);
  return [...unique];
}

/** Default thumbnail side for n points normalized into a unit box. */
export function defaultTile(n: number): number {
  return Math.min(0.2, Math.max(0.0015, 1 / Math.sqrt(Math.max(1, n))));
}
