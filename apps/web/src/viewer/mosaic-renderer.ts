/**
 * The map renderer: one deck.gl canvas (one WebGL context, so panes share textures) with one
 * orthographic view per pane, and three mosaic passes per pane:
 *
 *   overview  every image at 8 texels from one texture, in spatial chunks of about 2,000 images
 *             so that only chunks on screen are drawn (always)
 *   base      thumbnails at the atlas's smallest size (32 px), for what is on screen, once a
 *             thumbnail covers 16 device pixels
 *   fine      128 px thumbnails, once it covers 64 (cut from the atlas's 128 px sheets when the
 *             dataset has few, else the API's per-image thumbnails: on a large atlas the images
 *             on screen are scattered over hundreds of sheets)
 *
 * Sharper passes draw over blurrier ones at the same depth, and depth follows draw order, so
 * images overlap the same way at every zoom. All state changes go through one FrameQueue.
 */
import { Deck, OrthographicView } from '@deck.gl/core';
import type { Device, Texture } from '@luma.gl/core';
import { lassoSelect } from './lasso';
import type { MapData } from './map-data';
import { forEachInBounds, pickPoint } from './point-grid';
import { MosaicLayer, type MosaicColumns } from './render/mosaic-layer';
import { OverviewTexture, placeholderTexture, TileCache, type Band, type TileRequest } from './textures';
import { FrameQueue } from './update-queue';
import { boundsOf, grow, Viewport } from './viewport';
import type { MapWorkerClient } from './worker/client';
import type { TileItem } from './worker/protocol';

export type Level = 'overview' | 'base' | 'fine';

/** Device pixels a thumbnail must cover before each pass is asked for / drawn. */
const REQUEST_BASE = 16;
const REQUEST_FINE = 64;
const DRAW_BASE = 10;
const DRAW_FINE = 40;
const FINE_SIZE = 128;
/** Atlases with at most this many 128 px sheets give fine tiles from sheets. */
const FINE_FROM_SHEETS = 4;
const MAX_IN_FLIGHT = 2;
const MIN_SCALE_FACTOR = 0.25;
const MAX_TILE_PIXELS = 2048;

export interface PaneStatus {
  readonly level: Level;
  /** Thumbnails of the current pass on screen and how many of them are drawn sharp. */
  readonly visible: number;
  readonly sharp: number;
}

export interface RendererOptions {
  /** Called after each commit with the time it took (ms, CPU side). */
  readonly onCommit?: (ms: number) => void;
  readonly onViewportChange?: (paneId: string, viewport: Viewport) => void;
  readonly onOverviewProgress?: (loaded: number, total: number) => void;
  readonly onStatus?: (paneId: string, status: PaneStatus) => void;
  readonly onError?: (message: string) => void;
}

interface Pane {
  readonly id: string;
  element: HTMLElement;
  rect: { x: number; y: number; width: number; height: number };
  data: MapData | null;
  viewport: Viewport | null;
  highlight: number;
  /** Dataset position -> point index in this pane (-1: not on this map). */
  pointOfImage: Int32Array | null;
  overview: { chunks: OverviewChunks; selectionVersion: number } | null;
  passes: Map<'base' | 'fine', { key: string; columns: MosaicColumns }>;
  status: PaneStatus | null;
}

/** The overview pass of a pane, its points sorted into spatial chunks (columns are views into shared arrays). */
interface OverviewChunks {
  readonly columns: MosaicColumns[];
  /** Per chunk: minX, minY, maxX, maxY of its points. */
  readonly bounds: Float64Array;
  /** Point index per position in chunk order (to rebuild the flags). */
  readonly order: Int32Array;
  readonly flags: Float32Array;
}

const CHUNK_POINTS = 2048;

interface Caches {
  base: TileCache | null;
  fine: TileCache;
  inFlight: Map<number, AbortController>;
}

let tickets = 1;

export class MosaicRenderer {
  readonly #container: HTMLDivElement;
  readonly #worker: MapWorkerClient;
  readonly #options: RendererOptions;
  readonly #deck: Deck<OrthographicView[]>;
  readonly #queue: FrameQueue;
  readonly #resize: ResizeObserver;
  #device: Device | null = null;
  #gl: WebGL2RenderingContext | null = null;
  #placeholder: Texture | null = null;
  readonly #panes = new Map<string, Pane>();
  #paneOrder: string[] = [];
  readonly #overviews = new Map<string, { texture: OverviewTexture | null; abort: AbortController }>();
  readonly #caches = new Map<string, Caches>();
  #selection: Uint8Array | null = null;
  #selectionVersion = 0;
  #tileScale = 1;
  #highlightColor: [number, number, number, number] = [255, 176, 0, 255];
  #background: [number, number, number, number] = [230, 227, 222, 255];
  #viewsKey = '';
  #views: OrthographicView[] = [];
  #disposed = false;
  /** Set while renderNow times a frame: the commit then leaves drawing to it. */
  #measuring = false;

  constructor(container: HTMLDivElement, worker: MapWorkerClient, options: RendererOptions = {}) {
    this.#container = container;
    this.#worker = worker;
    this.#options = options;
    this.#queue = new FrameQueue(() => this.#commit());
    this.#deck = new Deck<OrthographicView[]>({
      parent: container,
      style: { position: 'absolute', left: '0', top: '0', width: '100%', height: '100%', pointerEvents: 'none' },
      views: [],
      viewState: {},
      controller: false,
      // Picking runs on the typed columns (point-grid.ts); deck.gl's GPU picking would redraw
      // every layer into a picking buffer and read it back on each pointer move.
      _pickable: false,
      layers: [],
      useDevicePixels: true,
      layerFilter: ({ layer, viewport }) => layer.id.startsWith(`${viewport.id}:`),
      onDeviceInitialized: (device: Device) => {
        this.#device = device;
        this.#placeholder = placeholderTexture(device);
        this.#queue.schedule();
      },
      onWebGLInitialized: (gl: WebGL2RenderingContext) => {
        this.#gl = gl;
      },
      onError: (error: Error) => {
        this.#options.onError?.(`WebGL: ${error.message}`);
      },
    });
    this.#resize = new ResizeObserver(() => this.#measure());
    this.#resize.observe(container);
  }

  // ---- panes -----------------------------------------------------------------------------

  /** The panes, left to right; each element marks where its pane is in the container. */
  setPanes(panes: readonly { id: string; element: HTMLElement }[]): void {
    const ids = new Set(panes.map((p) => p.id));
    for (const id of this.#panes.keys()) if (!ids.has(id)) this.#panes.delete(id);
    for (const { id, element } of panes) {
      const pane = this.#panes.get(id);
      if (pane) {
        if (pane.element !== element) {
          this.#resize.unobserve(pane.element);
          pane.element = element;
          this.#resize.observe(element);
        }
      } else {
        this.#panes.set(id, { id, element, rect: { x: 0, y: 0, width: 0, height: 0 }, data: null, viewport: null, highlight: -1, pointOfImage: null, overview: null, passes: new Map(), status: null });
        this.#resize.observe(element);
      }
    }
    this.#paneOrder = panes.map((p) => p.id);
    this.#measure();
  }

  #measure(): void {
    const outer = this.#container.getBoundingClientRect();
    for (const pane of this.#panes.values()) {
      const box = pane.element.getBoundingClientRect();
      pane.rect = { x: Math.round(box.left - outer.left), y: Math.round(box.top - outer.top), width: Math.round(box.width), height: Math.round(box.height) };
      if (pane.viewport && (pane.viewport.width !== pane.rect.width || pane.viewport.height !== pane.rect.height)) {
        pane.viewport = pane.viewport.withSize(pane.rect.width, pane.rect.height);
      } else if (!pane.viewport && pane.data) {
        pane.viewport = this.#fitted(pane);
      }
    }
    this.#queue.schedule();
  }

  /** Shows `data` in a pane (null: empty). Keeps the view when the new map has the same frame. */
  setMap(paneId: string, data: MapData | null, options: { keepView?: boolean } = {}): void {
    const pane = this.#pane(paneId);
    if (pane.data === data) return;
    pane.data = data;
    pane.overview = null;
    pane.passes.clear();
    pane.highlight = -1;
    pane.pointOfImage = data ? pointsByImage(data) : null;
    if (!options.keepView || !pane.viewport) pane.viewport = data ? this.#fitted(pane) : null;
    if (data?.atlas) this.#ensureOverview(data);
    this.#queue.schedule();
  }

  getMap(paneId: string): MapData | null {
    return this.#panes.get(paneId)?.data ?? null;
  }

  #fitted(pane: Pane): Viewport | null {
    if (!pane.data || pane.rect.width === 0) return null;
    const bounds = grow(boundsOf(pane.data.x, pane.data.y), this.#tile(pane) / 2);
    return Viewport.fit(bounds, pane.rect.width, pane.rect.height);
  }

  #pane(paneId: string): Pane {
    const pane = this.#panes.get(paneId);
    if (!pane) throw new RangeError(`no pane "${paneId}"; panes are ${[...this.#panes.keys()].join(', ') || 'none'}`);
    return pane;
  }

  #tile(pane: Pane): number {
    return (pane.data?.tile ?? 0.01) * this.#tileScale;
  }

  // ---- view ------------------------------------------------------------------------------

  getViewport(paneId: string): Viewport | null {
    return this.#panes.get(paneId)?.viewport ?? null;
  }

  /** Zoom limits: from a quarter of the fitted view to a thumbnail of MAX_TILE_PIXELS. */
  limits(paneId: string): { minScale: number; maxScale: number } {
    const pane = this.#pane(paneId);
    const fitted = this.#fitted(pane);
    const minScale = (fitted?.scale ?? 1) * MIN_SCALE_FACTOR;
    return { minScale, maxScale: Math.max(minScale * 4, MAX_TILE_PIXELS / this.#tile(pane)) };
  }

  setViewport(paneId: string, viewport: Viewport): void {
    const pane = this.#pane(paneId);
    if (viewport.equals(pane.viewport)) return;
    pane.viewport = viewport;
    this.#options.onViewportChange?.(paneId, viewport);
    this.#queue.schedule();
  }

  fit(paneId: string): void {
    const pane = this.#pane(paneId);
    const fitted = this.#fitted(pane);
    if (fitted) this.setViewport(paneId, fitted);
  }

  /** Thumbnail size relative to the default (1 / sqrt(n) of the map's extent). */
  setTileScale(scale: number): void {
    if (!(scale > 0)) throw new RangeError(`tile scale must be positive, got ${scale}`);
    this.#tileScale = scale;
    this.#queue.schedule();
  }

  tileSize(paneId: string): number {
    return this.#tile(this.#pane(paneId));
  }

  // ---- selection and highlight -------------------------------------------------------------

  /** Images selected in every pane, by dataset position (1 = selected); null: no selection. */
  setSelection(mask: Uint8Array | null): void {
    this.#selection = mask;
    this.#selectionVersion += 1;
    this.#queue.schedule();
  }

  setHighlight(paneId: string, point: number): void {
    const pane = this.#pane(paneId);
    if (pane.highlight === point) return;
    pane.highlight = point;
    this.#queue.schedule();
  }

  /** Theme colours: the highlight outline, and the background faded images tend to. */
  setColors(colors: { highlight: [number, number, number, number]; background: [number, number, number, number] }): void {
    this.#highlightColor = colors.highlight;
    this.#background = colors.background;
    this.#queue.schedule();
  }

  /** The topmost point under pane pixel (px, py), or -1. */
  pick(paneId: string, px: number, py: number): number {
    const pane = this.#pane(paneId);
    if (!pane.data || !pane.viewport) return -1;
    const [x, y] = pane.viewport.toData(px, py);
    return pickPoint(pane.data.grid, pane.data.x, pane.data.y, x, y, this.#tile(pane));
  }

  /** Points inside a polygon drawn in pane pixels ([x0, y0, x1, y1, ...]). */
  lasso(paneId: string, polygonPx: readonly number[]): Int32Array {
    const pane = this.#pane(paneId);
    if (!pane.data || !pane.viewport) return new Int32Array(0);
    const polygon = new Float64Array(polygonPx.length);
    for (let i = 0; i < polygonPx.length; i += 2) {
      const [x, y] = pane.viewport.toData(polygonPx[i] as number, polygonPx[i + 1] as number);
      polygon[i] = x;
      polygon[i + 1] = y;
    }
    return lassoSelect(pane.data.grid, pane.data.x, pane.data.y, polygon);
  }

  /** The point of a pane showing dataset position `image`, or -1. */
  pointOf(paneId: string, image: number): number {
    const pane = this.#pane(paneId);
    return image >= 0 && pane.pointOfImage && image < pane.pointOfImage.length ? (pane.pointOfImage[image] as number) : -1;
  }

  // ---- textures ----------------------------------------------------------------------------

  #retryOverview(atlasKey: string, attempt: number): void {
    if (this.#disposed || this.#overviews.has(atlasKey)) return;
    const data = [...this.#panes.values()].map((pane) => pane.data).find((d) => d?.atlas?.atlasKey === atlasKey);
    if (!data) return;
    this.#ensureOverview(data, attempt);
    for (const pane of this.#panes.values()) if (pane.data === data || pane.data?.atlas?.atlasKey === atlasKey) pane.overview = null;
    this.#queue.schedule();
  }

  #ensureOverview(data: MapData, attempt = 0): void {
    const atlas = data.atlas;
    if (!atlas || this.#overviews.has(atlas.atlasKey)) return;
    const abort = new AbortController();
    const entry: { texture: OverviewTexture | null; abort: AbortController } = { texture: null, abort };
    this.#overviews.set(atlas.atlasKey, entry);
    const pendingTiles: { x: number; y: number; bitmap: ImageBitmap }[] = [];
    const flushPending = () => {
      if (!entry.texture && this.#device) entry.texture = new OverviewTexture(this.#device, atlas.overview);
      if (!entry.texture) return;
      for (const tile of pendingTiles.splice(0)) entry.texture.put(tile.x, tile.y, tile.bitmap);
      this.#options.onOverviewProgress?.(entry.texture.loaded, entry.texture.total);
      this.#queue.schedule();
    };
    this.#options.onOverviewProgress?.(0, atlas.overview.slots.length / 3);
    this.#worker
      .overview(
        atlas.atlasKey,
        (tile) => {
          pendingTiles.push(tile);
          flushPending();
        },
        { signal: abort.signal },
      )
      .catch((error: Error) => {
        if (abort.signal.aborted || this.#disposed) return;
        // Forget it, so the next map of this atlas (or a retry) loads it again: an atlas being
        // rebuilt by a map job answers 404 for a moment.
        this.#overviews.delete(atlas.atlasKey);
        entry.texture?.destroy();
        if (attempt < 3) setTimeout(() => this.#retryOverview(atlas.atlasKey, attempt + 1), 2000 * (attempt + 1));
        else this.#options.onError?.(`thumbnails: ${error.message}`);
      });
    // Tiles that arrive before the GPU device exists wait in pendingTiles.
    const wait = () => {
      if (this.#disposed || abort.signal.aborted) return;
      if (this.#device) flushPending();
      else setTimeout(wait, 50);
    };
    wait();
  }

  #cachesFor(data: MapData): Caches | null {
    if (!this.#device) return null;
    const key = cacheKeyOf(data);
    let caches = this.#caches.get(key);
    if (!caches) {
      const baseSize = data.atlas?.tileSizes[0] ?? 0;
      caches = {
        // 64 x 64 cells of 32 px (16 MiB), and 32 x 32 cells of 128 px (64 MiB).
        base: data.atlas && baseSize > 0 ? new TileCache(this.#device, { id: `${key}-base`, cellSize: baseSize, cols: Math.floor(2048 / baseSize), rows: Math.floor(2048 / baseSize) }) : null,
        fine: new TileCache(this.#device, { id: `${key}-fine`, cellSize: FINE_SIZE, cols: 32, rows: 32 }),
        inFlight: new Map(),
      };
      this.#caches.set(key, caches);
    }
    return caches;
  }

  /** Asks the worker for the thumbnails of `points` (nearest the centre first) missing from `cache`. */
  #request(pane: Pane, caches: Caches, level: 'base' | 'fine', points: readonly number[]): void {
    const data = pane.data as MapData;
    const cache = level === 'base' ? caches.base : caches.fine;
    if (!cache || caches.inFlight.size >= MAX_IN_FLIGHT) return;
    const atlas = data.atlas;
    const fineLevel = atlas ? atlas.tileSizes.indexOf(FINE_SIZE) : -1;
    const fineSheets = atlas && fineLevel >= 0 ? atlas.sheets.filter((s) => s.level === fineLevel).length : Infinity;
    const useFineSheets = fineLevel >= 0 && fineSheets <= FINE_FROM_SHEETS;
    const requests: TileRequest[] = [];
    const pointOf = new Map<number, number>();
    for (const p of points) {
      const image = data.sourceIndex[p] as number;
      if (image < 0 || cache.has(image) || pointOf.has(image)) continue;
      let w = cache.cellSize;
      let h = cache.cellSize;
      if (atlas) {
        const rw = atlas.rects[0]?.[4 * p + 2] ?? 0;
        const rh = atlas.rects[0]?.[4 * p + 3] ?? 0;
        if (rw > 0 && rh > 0) {
          const longest = Math.max(rw, rh);
          w = Math.max(1, Math.round((cache.cellSize * rw) / longest));
          h = Math.max(1, Math.round((cache.cellSize * rh) / longest));
        }
      }
      requests.push({ image, w, h });
      pointOf.set(image, p);
      if (requests.length >= cache.capacity / 2) break;
    }
    if (requests.length === 0) return;
    const ticket = tickets++;
    const { bands, evictedTickets } = cache.allocate(requests, ticket);
    for (const old of evictedTickets) {
      caches.inFlight.get(old)?.abort();
      caches.inFlight.delete(old);
    }
    const abort = new AbortController();
    caches.inFlight.set(ticket, abort);
    const itemOf = (band: Band) =>
      band.items.map((item): TileItem => {
        const p = pointOf.get(item.image) as number;
        const sheetLevel = level === 'base' ? 0 : useFineSheets ? fineLevel : -1;
        const sheet = atlas && sheetLevel >= 0 ? (atlas.sheetOf[sheetLevel]?.[p] ?? -1) : -1;
        const rect = atlas && sheetLevel >= 0 ? atlas.rects[sheetLevel] : undefined;
        return {
          image: item.image,
          imageId: data.imageIds[p] as number,
          sheet,
          sx: rect?.[4 * p] ?? 0,
          sy: rect?.[4 * p + 1] ?? 0,
          sw: rect?.[4 * p + 2] ?? 0,
          sh: rect?.[4 * p + 3] ?? 0,
          dx: item.dx,
          dy: item.dy,
          dw: item.w,
          dh: item.h,
        };
      });
    const jobs = bands.map((band) =>
      this.#worker.tiles(
        atlas?.atlasKey ?? null,
        band.width,
        band.height,
        itemOf(band),
        ({ bitmap }) => {
          if (abort.signal.aborted || this.#disposed) {
            bitmap.close();
            return;
          }
          cache.upload(band, bitmap);
          this.#queue.schedule();
        },
        { signal: abort.signal },
      ),
    );
    void Promise.allSettled(jobs).then((results) => {
      caches.inFlight.delete(ticket);
      cache.release(ticket);
      const failed = results.some((r) => r.status === 'rejected');
      if (failed && !abort.signal.aborted) {
        for (const band of bands) cache.forget(band.items);
        const reason = results.find((r): r is PromiseRejectedResult => r.status === 'rejected')?.reason as Error | undefined;
        this.#options.onError?.(`thumbnails: ${reason?.message ?? 'failed'}`);
      }
      this.#queue.schedule();
    });
  }

  // ---- commit ------------------------------------------------------------------------------

  #commit(): void {
    if (this.#disposed) return;
    const started = performance.now();
    const panes = this.#paneOrder.map((id) => this.#panes.get(id)).filter((p): p is Pane => !!p && p.rect.width > 0 && p.rect.height > 0);
    const viewsKey = panes.map((p) => `${p.id}:${p.rect.x},${p.rect.y},${p.rect.width},${p.rect.height}`).join('|');
    if (viewsKey !== this.#viewsKey) {
      this.#viewsKey = viewsKey;
      this.#views = panes.map((p) => new OrthographicView({ id: p.id, x: p.rect.x, y: p.rect.y, width: p.rect.width, height: p.rect.height, flipY: true, controller: false }));
    }
    const viewState: Record<string, unknown> = {};
    const layers: MosaicLayer[] = [];
    for (const pane of panes) {
      const viewport = pane.viewport ?? this.#fitted(pane);
      if (!viewport) {
        viewState[pane.id] = { target: [0, 0, 0], zoom: 0, minZoom: -40, maxZoom: 40 };
        continue;
      }
      pane.viewport = viewport;
      viewState[pane.id] = { ...viewport.deckViewState(), minZoom: -40, maxZoom: 40 };
      layers.push(...this.#paneLayers(pane, viewport));
    }
    for (const entry of this.#overviews.values()) entry.texture?.beforeDraw();
    this.#deck.setProps({ views: this.#views, viewState: viewState as never, layers });
    if (!this.#measuring) this.#deck.redraw();
    this.#options.onCommit?.(performance.now() - started);
  }

  #paneLayers(pane: Pane, viewport: Viewport): MosaicLayer[] {
    const data = pane.data;
    if (!data || data.count === 0 || !this.#device) return [];
    const tile = this.#tile(pane);
    const tilePx = tile * viewport.scale * (window.devicePixelRatio || 1);
    const common = {
      view: { centerX: viewport.centerX, centerY: viewport.centerY, scale: viewport.scale, width: viewport.width, height: viewport.height },
      tileSize: tile,
      pointCount: data.count,
      selectionActive: this.#selection !== null,
      highlightIndex: pane.highlight,
      highlightColor: this.#highlightColor,
      dimColor: this.#background,
      parameters: { depthWriteEnabled: true, depthCompare: 'less-equal' as const },
      pickable: false,
    };
    const layers: MosaicLayer[] = [];
    // Overview: every point.
    const overviewEntry = data.atlas ? this.#overviews.get(data.atlas.atlasKey) : undefined;
    const overviewTexture = data.atlas ? (overviewEntry?.texture?.texture ?? null) : this.#placeholder;
    if (!pane.overview || pane.overview.selectionVersion !== this.#selectionVersion) {
      pane.overview = { chunks: this.#overviewChunks(data, pane.overview?.chunks), selectionVersion: this.#selectionVersion };
    }
    // Chunks off screen stay (their buffers too) but are not drawn.
    const seen = grow(viewport.visibleBounds(), tile);
    const { columns, bounds } = pane.overview.chunks;
    columns.forEach((chunk, k) => {
      const visible = (bounds[4 * k] as number) <= seen.maxX && (bounds[4 * k + 2] as number) >= seen.minX && (bounds[4 * k + 1] as number) <= seen.maxY && (bounds[4 * k + 3] as number) >= seen.minY;
      layers.push(new MosaicLayer({ ...common, id: `${pane.id}:overview:${k}`, data: chunk, texture: overviewTexture, visible }));
    });
    // Sharper passes.
    const caches = this.#cachesFor(data);
    let level: Level = 'overview';
    let visible = 0;
    let sharp = 0;
    if (caches) {
      const wantFine = tilePx >= REQUEST_FINE;
      const wantBase = !wantFine && tilePx >= REQUEST_BASE && caches.base !== null;
      if (wantFine || wantBase) {
        level = wantFine ? 'fine' : 'base';
        const cache = (wantFine ? caches.fine : caches.base) as TileCache;
        const onScreen = this.#visiblePoints(pane, viewport, tile, cache.capacity / 2);
        visible = onScreen.length;
        for (const p of onScreen) if (cache.has(data.sourceIndex[p] as number)) sharp += 1;
        this.#request(pane, caches, level as 'base' | 'fine', onScreen);
      }
      for (const [pass, cache, minPx] of [
        ['base', caches.base, DRAW_BASE],
        ['fine', caches.fine, DRAW_FINE],
      ] as const) {
        if (!cache || tilePx < minPx || cache.size === 0) continue;
        const key = `${cache.version}/${this.#selectionVersion}`;
        let entry = pane.passes.get(pass);
        if (!entry || entry.key !== key) {
          entry = { key, columns: this.#cacheColumns(pane, cache) };
          pane.passes.set(pass, entry);
        }
        layers.push(new MosaicLayer({ ...common, id: `${pane.id}:${pass}`, data: entry.columns, texture: cache.texture }));
      }
    }
    const status: PaneStatus = { level, visible, sharp };
    if (!pane.status || pane.status.level !== status.level || pane.status.visible !== status.visible || pane.status.sharp !== status.sharp) {
      pane.status = status;
      this.#options.onStatus?.(pane.id, status);
    }
    return layers;
  }

  /** Points on screen, nearest the centre first, at most `limit`. */
  #visiblePoints(pane: Pane, viewport: Viewport, tile: number, limit: number): number[] {
    const data = pane.data as MapData;
    const bounds = grow(viewport.visibleBounds(), tile / 2);
    const found: number[] = [];
    forEachInBounds(data.grid, data.x, data.y, bounds, (i) => {
      found.push(i);
    });
    const cx = viewport.centerX;
    const cy = viewport.centerY;
    const distance = (i: number) => ((data.x[i] as number) - cx) ** 2 + ((data.y[i] as number) - cy) ** 2;
    if (found.length > limit) {
      found.sort((a, b) => distance(a) - distance(b));
      found.length = limit;
    }
    return found;
  }

  #flag(data: MapData, p: number): number {
    const image = data.sourceIndex[p] as number;
    return this.#selection && image >= 0 && this.#selection[image] ? 1 : 0;
  }

  /**
   * The overview pass's columns, points grouped by a grid of about CHUNK_POINTS per cell. Depth
   * carries the draw order, so drawing chunk by chunk overlaps images exactly as drawing them in
   * map order would.
   */
  #overviewChunks(data: MapData, previous: OverviewChunks | undefined): OverviewChunks {
    const n = data.count;
    if (previous && previous.order.length === n) {
      // Only the selection changed: new flags, the other columns reused (deck.gl uploads only what is new).
      const flags = new Float32Array(n);
      for (let j = 0; j < n; j++) flags[j] = this.#flag(data, previous.order[j] as number);
      let start = 0;
      const columns = previous.columns.map((chunk) => {
        const next = { length: chunk.length, attributes: { ...chunk.attributes, instanceFlags: flags.subarray(start, start + chunk.length) } };
        start += chunk.length;
        return next;
      });
      return { ...previous, columns, flags };
    }
    const side = Math.max(1, Math.ceil(Math.sqrt(n / CHUNK_POINTS)));
    const b = boundsOf(data.x, data.y);
    const spanX = Math.max(b.maxX - b.minX, 1e-12);
    const spanY = Math.max(b.maxY - b.minY, 1e-12);
    const chunkOf = new Int32Array(n);
    const counts = new Int32Array(side * side + 1);
    for (let p = 0; p < n; p++) {
      const cx = Math.min(side - 1, Math.floor((((data.x[p] as number) - b.minX) / spanX) * side));
      const cy = Math.min(side - 1, Math.floor((((data.y[p] as number) - b.minY) / spanY) * side));
      chunkOf[p] = cy * side + cx;
      counts[cy * side + cx + 1] = (counts[cy * side + cx + 1] as number) + 1;
    }
    for (let k = 0; k < side * side; k++) counts[k + 1] = (counts[k + 1] as number) + (counts[k] as number);
    const fill = counts.slice(0, side * side);
    const order = new Int32Array(n);
    for (let p = 0; p < n; p++) {
      const k = chunkOf[p] as number;
      order[fill[k] as number] = p;
      fill[k] = (fill[k] as number) + 1;
    }
    const positions = new Float32Array(2 * n);
    const rects = new Float32Array(4 * n);
    const drawOrder = new Float32Array(n);
    const flags = new Float32Array(n);
    const source = data.atlas?.overviewRects;
    for (let j = 0; j < n; j++) {
      const p = order[j] as number;
      positions[2 * j] = data.x[p] as number;
      positions[2 * j + 1] = data.y[p] as number;
      if (source) rects.set(source.subarray(4 * p, 4 * p + 4), 4 * j);
      else rects.set([0, 0, 8, 8], 4 * j);
      drawOrder[j] = p;
      flags[j] = this.#flag(data, p);
    }
    const columns: MosaicColumns[] = [];
    const bounds: number[] = [];
    for (let k = 0; k < side * side; k++) {
      const start = counts[k] as number;
      const end = counts[k + 1] as number;
      if (end === start) continue;
      let minX = Infinity;
      let minY = Infinity;
      let maxX = -Infinity;
      let maxY = -Infinity;
      for (let j = start; j < end; j++) {
        minX = Math.min(minX, positions[2 * j] as number);
        maxX = Math.max(maxX, positions[2 * j] as number);
        minY = Math.min(minY, positions[2 * j + 1] as number);
        maxY = Math.max(maxY, positions[2 * j + 1] as number);
      }
      bounds.push(minX, minY, maxX, maxY);
      columns.push({
        length: end - start,
        attributes: {
          instancePositions: positions.subarray(2 * start, 2 * end),
          instanceRects: rects.subarray(4 * start, 4 * end),
          instanceOrder: drawOrder.subarray(start, end),
          instanceFlags: flags.subarray(start, end),
        },
      });
    }
    return { columns, bounds: Float64Array.from(bounds), order, flags };
  }

  #cacheColumns(pane: Pane, cache: TileCache): MosaicColumns {
    const data = pane.data as MapData;
    const pointOf = pane.pointOfImage as Int32Array;
    const points: number[] = [];
    const slots: number[] = [];
    cache.forEach((image, slot) => {
      const p = image < pointOf.length ? (pointOf[image] as number) : -1;
      if (p >= 0) {
        points.push(p);
        slots.push(slot);
      }
    });
    const k = points.length;
    const positions = new Float32Array(2 * k);
    const rects = new Float32Array(4 * k);
    const order = new Float32Array(k);
    const flags = new Float32Array(k);
    for (let j = 0; j < k; j++) {
      const p = points[j] as number;
      positions[2 * j] = data.x[p] as number;
      positions[2 * j + 1] = data.y[p] as number;
      cache.rect(slots[j] as number, rects, 4 * j);
      order[j] = p;
      flags[j] = this.#flag(data, p);
    }
    return { length: k, attributes: { instancePositions: positions, instanceRects: rects, instanceOrder: order, instanceFlags: flags } };
  }

  // ---- measuring and exporting -----------------------------------------------------------

  /**
   * Commits and draws now, and waits for the GPU: the cost of one frame, split into our work
   * (levels of detail, columns, deck.gl layer diffing), issuing the draw calls, and waiting for
   * the GPU to finish them (ms).
   */
  renderNow(): { commitMs: number; drawMs: number; gpuMs: number; totalMs: number } {
    const t0 = performance.now();
    this.#measuring = true;
    try {
      this.#queue.flush();
    } finally {
      this.#measuring = false;
    }
    const t1 = performance.now();
    this.#deck.redraw('measure');
    const t2 = performance.now();
    if (this.#gl) {
      const pixel = new Uint8Array(4);
      this.#gl.readPixels(0, 0, 1, 1, this.#gl.RGBA, this.#gl.UNSIGNED_BYTE, pixel);
    }
    const t3 = performance.now();
    return { commitMs: t1 - t0, drawMs: t2 - t1, gpuMs: t3 - t2, totalMs: t3 - t0 };
  }

  get ready(): boolean {
    return this.#device !== null;
  }

  /** Overview sheets loaded, over all atlases shown. */
  overviewProgress(): { loaded: number; total: number } {
    let loaded = 0;
    let total = 0;
    for (const entry of this.#overviews.values()) {
      loaded += entry.texture?.loaded ?? 0;
      total += entry.texture?.total ?? 0;
    }
    return { loaded, total };
  }

  /** The pane as it is drawn, as a PNG over `background`. */
  async exportPng(paneId: string, background: string): Promise<Blob> {
    const pane = this.#pane(paneId);
    this.#queue.flush();
    this.#deck.redraw('export');
    const canvas = this.#deck.getCanvas();
    if (!canvas) throw new Error('the map is not drawn yet');
    const ratio = canvas.width / Math.max(1, this.#container.clientWidth);
    const out = document.createElement('canvas');
    out.width = Math.round(pane.rect.width * ratio);
    out.height = Math.round(pane.rect.height * ratio);
    const ctx = out.getContext('2d');
    if (!ctx) throw new Error('no 2-D canvas to export into');
    ctx.fillStyle = background;
    ctx.fillRect(0, 0, out.width, out.height);
    ctx.drawImage(canvas, Math.round(pane.rect.x * ratio), Math.round(pane.rect.y * ratio), out.width, out.height, 0, 0, out.width, out.height);
    return new Promise((resolve, reject) => out.toBlob((blob) => (blob ? resolve(blob) : reject(new Error('the PNG could not be encoded'))), 'image/png'));
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    this.#queue.dispose();
    this.#resize.disconnect();
    for (const entry of this.#overviews.values()) {
      entry.abort.abort();
      entry.texture?.destroy();
    }
    for (const caches of this.#caches.values()) {
      for (const abort of caches.inFlight.values()) abort.abort();
      caches.base?.destroy();
      caches.fine.destroy();
    }
    this.#placeholder?.destroy();
    this.#deck.finalize();
  }
}

function cacheKeyOf(data: MapData): string {
  return data.atlas?.atlasKey ?? `images:${data.key.split('/')[0] ?? ''}`;
}

function pointsByImage(data: MapData): Int32Array {
  let max = -1;
  for (let p = 0; p < data.count; p++) max = Math.max(max, data.sourceIndex[p] as number);
  const pointOf = new Int32Array(max + 1).fill(-1);
  for (let p = 0; p < data.count; p++) {
    const image = data.sourceIndex[p] as number;
    if (image >= 0) pointOf[image] = p;
  }
  return pointOf;
}
