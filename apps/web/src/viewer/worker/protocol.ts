/** Messages between the page and the map worker (./map.worker.ts). */
import type { MapData } from '../map-data';

export interface MapRequestKey {
  readonly datasetId: string;
  readonly layer: string;
  readonly perplexity: number;
  readonly seed: number;
}

/** One thumbnail to draw into a band of a tile cache. */
export interface TileItem {
  /** Position in the dataset (synthetic tiles are drawn from it). */
  readonly image: number;
  /** The API's image id (for /files/thumbnails/:id). */
  readonly imageId: number;
  /** Atlas sheet to cut it from, or -1 to fetch the image's own thumbnail. */
  readonly sheet: number;
  readonly sx: number;
  readonly sy: number;
  readonly sw: number;
  readonly sh: number;
  /** Where it goes in the band, and its size there (texels). */
  readonly dx: number;
  readonly dy: number;
  readonly dw: number;
  readonly dh: number;
}

export type WorkerRequest =
  | { readonly type: 'loadMap'; readonly id: number; readonly map: MapRequestKey }
  | { readonly type: 'synthMap'; readonly id: number; readonly count: number; readonly seed: number }
  /** Aligns map `key` onto map `reference` (both loaded), returning `key` in the reference's frame. */
  | { readonly type: 'align'; readonly id: number; readonly reference: string; readonly key: string }
  /** Streams the overview texture of an atlas, one shrunk level-0 sheet at a time. */
  | { readonly type: 'overview'; readonly id: number; readonly atlasKey: string }
  /** Draws thumbnails into a width x height band of a tile cache, streamed as it fills. */
  | { readonly type: 'tiles'; readonly id: number; readonly atlasKey: string | null; readonly width: number; readonly height: number; readonly items: readonly TileItem[] }
  | { readonly type: 'cancel'; readonly id: number };

export type Stage = 'coordinates' | 'image index' | 'atlas' | 'layout';

export type WorkerResponse =
  | { readonly type: 'progress'; readonly id: number; readonly stage: Stage; readonly done: number; readonly total: number }
  | { readonly type: 'map'; readonly id: number; readonly data: MapData }
  | { readonly type: 'overviewTile'; readonly id: number; readonly x: number; readonly y: number; readonly bitmap: ImageBitmap; readonly done: number; readonly total: number }
  /** The band so far (cumulative: every tile drawn until now), `failed` tiles could not be read. */
  | { readonly type: 'band'; readonly id: number; readonly bitmap: ImageBitmap; readonly drawn: number; readonly failed: number }
  | { readonly type: 'done'; readonly id: number }
  | { readonly type: 'error'; readonly id: number; readonly message: string; readonly code: string };
