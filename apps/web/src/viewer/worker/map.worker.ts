/**
 * The map worker: everything heavy about a map happens here, off the page's thread. It fetches
 * a map's coordinate columns, the dataset's image index (id -> source position) and the atlas
 * index through the /api/strata proxy, parses them into typed columns, normalizes and
 * Procrustes-aligns coordinates, builds the picking grid, and decodes (and for the overview,
 * shrinks) atlas sheets into ImageBitmaps. Results are transferred, never copied.
 */
import { atlasColumns, checkAtlas, type AtlasJson } from '../atlas-index';
import { buffersOf, defaultTile, type MapData } from '../map-data';
import { buildPointGrid } from '../point-grid';
import { procrustes2d } from '../procrustes';
import { drawSyntheticSheet, drawSyntheticTile, syntheticAtlas, syntheticMap } from '../synthetic';
import { IMAGE_INDEX_PAGES, imageIndexQuery, MAP_COLUMNS } from '../../api/queries';
import type { MapRequestKey, Stage, TileItem, WorkerRequest, WorkerResponse } from './protocol';

interface WorkerScope {
  postMessage(message: WorkerResponse, transfer?: Transferable[]): void;
  addEventListener(type: 'message', listener: (event: MessageEvent<WorkerRequest>) => void): void;
}
const scope = globalThis as unknown as WorkerScope;

class WorkerError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
  }
}

const API = '/api/strata';
const cancelled = new Set<number>();

function post(message: WorkerResponse, transfer: Transferable[] = []): void {
  scope.postMessage(message, transfer);
}

function checkCancelled(id: number): void {
  if (cancelled.has(id)) throw new WorkerError('cancelled', 'CANCELLED');
}

async function gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(`${API}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-strata-client': 'web' },
    body: JSON.stringify({ query, variables }),
  });
  const body = (await response.json().catch(() => null)) as { data?: T; errors?: { message: string; extensions?: { code?: string } }[] } | null;
  const error = body?.errors?.[0];
  if (error) throw new WorkerError(error.message, error.extensions?.code ?? 'INTERNAL_SERVER_ERROR');
  if (!body?.data) throw new WorkerError(`the API answered ${response.status}`, 'INTERNAL_SERVER_ERROR');
  return body.data;
}

async function fetchOk(url: string): Promise<Response> {
  const response = await fetch(url);
  if (!response.ok) {
    const text = await response.text().catch(() => '');
    let message = `${url} answered ${response.status}`;
    try {
      const parsed = JSON.parse(text) as { error?: { message?: string }; errors?: { message?: string }[] };
      message = parsed.error?.message ?? parsed.errors?.[0]?.message ?? message;
    } catch {
      // not JSON: keep the status line
    }
    throw new WorkerError(message, response.status === 404 ? 'NOT_FOUND' : 'INTERNAL_SERVER_ERROR');
  }
  return response;
}

// ---- image index (API image id -> position in the dataset) -------------------------------

interface ImageIndex {
  readonly positionOf: Map<number, number>;
  readonly sourceIds: Map<number, string>;
}
const imageIndexes = new Map<string, Promise<ImageIndex>>();

type IndexPage = { total: number; items: { id: string; index: number; sourceId: string }[] };

async function loadImageIndex(datasetId: string, progress: (done: number, total: number) => void): Promise<ImageIndex> {
  const positionOf = new Map<number, number>();
  const sourceIds = new Map<number, string>();
  const add = (page: IndexPage) => {
    for (const item of page.items) {
      positionOf.set(Number(item.id), item.index);
      sourceIds.set(Number(item.id), item.sourceId);
    }
  };
  const request = async (start: number, pages: number): Promise<IndexPage[]> => {
    const variables: Record<string, unknown> = { datasetId };
    for (let i = 0; i < pages; i++) variables[`o${i}`] = start + i * 500;
    const data = await gql<Record<string, IndexPage>>(imageIndexQuery(pages), variables);
    return Array.from({ length: pages }, (_, i) => data[`p${i}`] as IndexPage);
  };
  const first = await request(0, IMAGE_INDEX_PAGES);
  first.forEach(add);
  const total = first[0]?.total ?? 0;
  const perRequest = IMAGE_INDEX_PAGES * 500;
  progress(Math.min(total, perRequest), total);
  const starts: number[] = [];
  for (let start = perRequest; start < total; start += perRequest) starts.push(start);
  // Two requests in flight: the API's pool is shared with everyone else.
  let done = Math.min(total, perRequest);
  for (let k = 0; k < starts.length; k += 2) {
    const batch = await Promise.all(starts.slice(k, k + 2).map((start) => request(start, IMAGE_INDEX_PAGES)));
    for (const pages of batch) pages.forEach(add);
    done = Math.min(total, done + batch.length * perRequest);
    progress(done, total);
  }
  return { positionOf, sourceIds };
}

function imageIndexOf(datasetId: string, progress: (done: number, total: number) => void): Promise<ImageIndex> {
  let entry = imageIndexes.get(datasetId);
  if (!entry) {
    entry = loadImageIndex(datasetId, progress);
    imageIndexes.set(datasetId, entry);
    entry.catch(() => imageIndexes.delete(datasetId));
  }
  return entry;
}

// ---- atlases ------------------------------------------------------------------------------

type AtlasSource =
  | { readonly kind: 'remote'; readonly json: AtlasJson; readonly baseUrl: string }
  | { readonly kind: 'synthetic'; readonly json: AtlasJson; readonly cluster: Uint16Array };
const atlases = new Map<string, AtlasSource>();

function sheetFile(source: AtlasSource, sheet: number): string {
  const info = source.json.sheets[sheet];
  if (!info) throw new WorkerError(`the atlas has ${source.json.sheets.length} sheets; asked for ${sheet}`, 'BAD_USER_INPUT');
  return info.file;
}

async function loadSheet(source: AtlasSource, sheet: number, resize?: { width: number; height: number }): Promise<ImageBitmap> {
  const options: ImageBitmapOptions = { premultiplyAlpha: 'none', colorSpaceConversion: 'none' };
  if (resize) Object.assign(options, { resizeWidth: resize.width, resizeHeight: resize.height, resizeQuality: 'high' });
  if (source.kind === 'synthetic') {
    const canvas = drawSyntheticSheet(source.json, sheet, source.cluster);
    return createImageBitmap(canvas, options);
  }
  const response = await fetchOk(`${source.baseUrl}${encodeURIComponent(sheetFile(source, sheet))}`);
  return createImageBitmap(await response.blob(), options);
}

// ---- maps ---------------------------------------------------------------------------------

interface HeldMap {
  readonly data: MapData;
  /** Normalized coordinates and ids kept here for alignment (the page got the transferred ones). */
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly imageIds: Int32Array;
}
const maps = new Map<string, HeldMap>();

function normalize(rawX: Float32Array, rawY: Float32Array): { x: Float32Array; y: Float32Array } {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < rawX.length; i++) {
    minX = Math.min(minX, rawX[i] as number);
    maxX = Math.max(maxX, rawX[i] as number);
    minY = Math.min(minY, rawY[i] as number);
    maxY = Math.max(maxY, rawY[i] as number);
  }
  const span = Math.max(maxX - minX, maxY - minY) || 1;
  const cx = (minX + maxX) / 2;
  const cy = (minY + maxY) / 2;
  const x = new Float32Array(rawX.length);
  const y = new Float32Array(rawY.length);
  for (let i = 0; i < rawX.length; i++) {
    x[i] = ((rawX[i] as number) - cx) / span;
    y[i] = ((rawY[i] as number) - cy) / span;
  }
  return { x, y };
}

/** Maps kept for alignment: the latest few (a page shows at most two at a time). */
const HELD_MAPS = 6;

function hold(key: string, data: MapData): MapData {
  maps.delete(key);
  maps.set(key, { data, x: data.x.slice(), y: data.y.slice(), imageIds: data.imageIds.slice() });
  while (maps.size > HELD_MAPS) maps.delete(maps.keys().next().value as string);
  return data;
}

function mapKey(map: MapRequestKey): string {
  return `${map.datasetId}/${map.layer}/${map.perplexity}/${map.seed}`;
}

async function loadMap(id: number, map: MapRequestKey): Promise<MapData> {
  const progress = (stage: Stage, done: number, total: number) => post({ type: 'progress', id, stage, done, total });
  progress('coordinates', 0, 1);
  const result = await gql<{ tsneMap: { id: string | null; status: string; columns: { imageIds: number[]; x: number[]; y: number[] } | null; atlas: { indexUrl: string } | null } }>(MAP_COLUMNS, {
    datasetId: map.datasetId,
    layer: map.layer,
    perplexity: map.perplexity,
    seed: map.seed,
  });
  checkCancelled(id);
  const columns = result.tsneMap.columns;
  if (result.tsneMap.status !== 'READY' || !columns) throw new WorkerError(`the ${map.layer} map is ${result.tsneMap.status.toLowerCase().replace('_', ' ')}`, 'NOT_READY');
  const n = columns.imageIds.length;
  const imageIds = Int32Array.from(columns.imageIds);
  const rawX = Float32Array.from(columns.x);
  const rawY = Float32Array.from(columns.y);
  progress('coordinates', 1, 1);
  const index = await imageIndexOf(map.datasetId, (done, total) => progress('image index', done, total));
  checkCancelled(id);
  const sourceIndex = new Int32Array(n);
  for (let p = 0; p < n; p++) sourceIndex[p] = index.positionOf.get(imageIds[p] as number) ?? -1;
  const sourceIds = Array.from(imageIds, (imageId) => index.sourceIds.get(imageId) ?? '');
  let atlas: MapData['atlas'] = null;
  if (result.tsneMap.atlas) {
    progress('atlas', 0, 1);
    const indexUrl = new URL(result.tsneMap.atlas.indexUrl, 'http://localhost');
    const proxiedIndex = `${API}${indexUrl.pathname}${indexUrl.search}`;
    const json = checkAtlas(await (await fetchOk(proxiedIndex)).json());
    checkCancelled(id);
    const atlasKey = `ds${map.datasetId}-${json.sheets.length}-${json.images.length}`;
    atlases.set(atlasKey, { kind: 'remote', json, baseUrl: `${API}${indexUrl.pathname.replace(/[^/]*$/, '')}` });
    atlas = atlasColumns(json, sourceIndex, atlasKey);
    progress('atlas', 1, 1);
  }
  progress('layout', 0, 1);
  const { x, y } = normalize(rawX, rawY);
  const tile = defaultTile(n);
  const data: MapData = { key: mapKey(map), count: n, imageIds, sourceIndex, sourceIds, rawX, rawY, x, y, tile, grid: buildPointGrid(x, y, tile), atlas, disparity: null };
  return hold(data.key, data);
}

function synthMap(count: number, seed: number): MapData {
  const { x: rawX, y: rawY, cluster } = syntheticMap(count, seed);
  const json = syntheticAtlas(count);
  const atlasKey = `synthetic-${count}-${seed}`;
  atlases.set(atlasKey, { kind: 'synthetic', json, cluster });
  const sourceIndex = Int32Array.from({ length: count }, (_, i) => i);
  const { x, y } = normalize(rawX, rawY);
  const tile = defaultTile(count);
  const data: MapData = {
    key: `synthetic/${count}/${seed}`,
    count,
    imageIds: Int32Array.from({ length: count }, (_, i) => i + 1),
    sourceIndex,
    sourceIds: Array.from({ length: count }, (_, i) => String(i)),
    rawX,
    rawY,
    x,
    y,
    tile,
    grid: buildPointGrid(x, y, tile),
    atlas: atlasColumns(json, sourceIndex, atlasKey),
    disparity: null,
  };
  return hold(data.key, data);
}

/** Map `key` moved onto map `reference` by Procrustes over the images both contain. */
function align(referenceKey: string, key: string): MapData {
  const reference = maps.get(referenceKey);
  const moving = maps.get(key);
  if (!reference || !moving) throw new WorkerError(`map ${reference ? key : referenceKey} is not loaded`, 'NOT_FOUND');
  const rowOf = new Map<number, number>();
  reference.imageIds.forEach((imageId, row) => rowOf.set(imageId, row));
  const ax: number[] = [];
  const ay: number[] = [];
  const bx: number[] = [];
  const by: number[] = [];
  moving.imageIds.forEach((imageId, row) => {
    const r = rowOf.get(imageId);
    if (r === undefined) return;
    ax.push(reference.x[r] as number);
    ay.push(reference.y[r] as number);
    bx.push(moving.x[row] as number);
    by.push(moving.y[row] as number);
  });
  if (ax.length < 2) throw new WorkerError(`the maps share ${ax.length} images; alignment needs at least 2`, 'BAD_USER_INPUT');
  const fit = procrustes2d(ax, ay, bx, by);
  // Apply the transform to every point of the moving map (also those the reference lacks).
  const [r0, r1, r2, r3] = fit.rotation;
  const [mx, my] = fit.meanSecond;
  const [fx, fy] = fit.meanFirst;
  const x = new Float32Array(moving.x.length);
  const y = new Float32Array(moving.y.length);
  for (let i = 0; i < x.length; i++) {
    const b0 = (moving.x[i] as number) - mx;
    const b1 = (moving.y[i] as number) - my;
    x[i] = fit.scale * (r0 * b0 + r1 * b1) + fx;
    y[i] = fit.scale * (r2 * b0 + r3 * b1) + fy;
  }
  const base = moving.data;
  const tile = reference.data.tile;
  return {
    ...base,
    key: `${base.key}@${referenceKey}`,
    imageIds: moving.imageIds.slice(),
    // Fresh copies: the held map keeps its own arrays for later alignments.
    sourceIndex: base.sourceIndex.slice(),
    rawX: base.rawX.slice(),
    rawY: base.rawY.slice(),
    x,
    y,
    tile,
    grid: buildPointGrid(x, y, tile),
    atlas: base.atlas ? copyAtlas(base.atlas) : null,
    disparity: fit.disparity,
  };
}

function copyAtlas(atlas: NonNullable<MapData['atlas']>): NonNullable<MapData['atlas']> {
  return {
    ...atlas,
    sheetOf: atlas.sheetOf.map((a) => a.slice()),
    rects: atlas.rects.map((a) => a.slice()),
    sheetStart: atlas.sheetStart.slice(),
    sheetItems: atlas.sheetItems.slice(),
    overview: { ...atlas.overview, slots: atlas.overview.slots.slice() },
    overviewRects: atlas.overviewRects.slice(),
  };
}

/** Sends a copy (the held map keeps its own arrays for later alignments and re-sends). */
function sendMap(id: number, data: MapData): void {
  const copy: MapData = {
    ...data,
    imageIds: data.imageIds.slice(),
    sourceIndex: data.sourceIndex.slice(),
    rawX: data.rawX.slice(),
    rawY: data.rawY.slice(),
    x: data.x.slice(),
    y: data.y.slice(),
    grid: { ...data.grid, cellStart: data.grid.cellStart.slice(), items: data.grid.items.slice() },
    atlas: data.atlas ? copyAtlas(data.atlas) : null,
  };
  post({ type: 'map', id, data: copy }, buffersOf(copy));
}

async function streamOverview(id: number, atlasKey: string): Promise<void> {
  const source = atlases.get(atlasKey);
  if (!source) throw new WorkerError(`atlas ${atlasKey} is not loaded`, 'NOT_FOUND');
  const json = source.json;
  const factor = Math.max(1, (json.tileSizes[0] ?? 32) / 8);
  const base = json.sheets.map((sheet, index) => ({ sheet, index })).filter(({ sheet }) => sheet.size === json.tileSizes[0]);
  const slotW = Math.ceil((json.sheetSize || 2048) / factor);
  const cols = Math.max(1, Math.min(Math.floor(8192 / slotW), Math.ceil(Math.sqrt(base.length))));
  let done = 0;
  // Two sheets decoding at a time: downloads overlap decoding without flooding the server.
  const queue = base.map(({ sheet, index }, k) => ({ sheet, index, k }));
  const work = async () => {
    for (let item = queue.shift(); item; item = queue.shift()) {
      checkCancelled(id);
      const width = Math.max(1, Math.round(item.sheet.width / factor));
      const height = Math.max(1, Math.round(item.sheet.height / factor));
      const bitmap = await loadSheet(source, item.index, { width, height });
      checkCancelled(id);
      done += 1;
      post({ type: 'overviewTile', id, x: (item.k % cols) * slotW, y: Math.floor(item.k / cols) * slotW, bitmap, done, total: base.length }, [bitmap]);
    }
  };
  await Promise.all([work(), work()]);
}

// ---- tile caches ----------------------------------------------------------------------------

/** Decoded sheets, a few kept: a batch of tiles usually comes from the same sheets. */
const decodedSheets = new Map<string, Promise<ImageBitmap>>();
const DECODED_SHEETS = 4;

function decodedSheet(atlasKey: string, source: AtlasSource, sheet: number): Promise<ImageBitmap> {
  const key = `${atlasKey}/${sheet}`;
  let entry = decodedSheets.get(key);
  if (entry) {
    decodedSheets.delete(key);
    decodedSheets.set(key, entry);
    return entry;
  }
  entry = loadSheet(source, sheet);
  decodedSheets.set(key, entry);
  entry.catch(() => decodedSheets.delete(key));
  while (decodedSheets.size > DECODED_SHEETS) {
    const [oldest, bitmap] = decodedSheets.entries().next().value as [string, Promise<ImageBitmap>];
    decodedSheets.delete(oldest);
    void bitmap.then((b) => b.close()).catch(() => undefined);
  }
  return entry;
}

const FLUSH_MS = 200;
const THUMBNAIL_FETCHES = 6;

/**
 * Draws `items` into a band canvas and posts it, cumulatively, every FLUSH_MS and at the end.
 * Thumbnails come from atlas sheets (grouped, so each sheet is decoded once), from the API's
 * per-image thumbnails (sparse images of a big atlas: one small JPEG instead of a whole sheet),
 * or are drawn (synthetic maps).
 */
async function drawTiles(id: number, atlasKey: string | null, width: number, height: number, items: readonly TileItem[]): Promise<void> {
  const canvas = new OffscreenCanvas(width, height);
  const ctx = canvas.getContext('2d') as OffscreenCanvasRenderingContext2D;
  ctx.imageSmoothingQuality = 'high';
  const source = atlasKey ? atlases.get(atlasKey) : undefined;
  let drawn = 0;
  let failed = 0;
  let flushed = 0;
  let lastFlush = performance.now();
  const flush = async (force: boolean) => {
    if (drawn === flushed || (!force && performance.now() - lastFlush < FLUSH_MS)) return;
    checkCancelled(id);
    flushed = drawn;
    lastFlush = performance.now();
    const bitmap = await createImageBitmap(canvas, { premultiplyAlpha: 'none' });
    post({ type: 'band', id, bitmap, drawn, failed }, [bitmap]);
  };
  const draw = (image: CanvasImageSource, item: TileItem, sx: number, sy: number, sw: number, sh: number) => {
    ctx.clearRect(item.dx, item.dy, item.dw, item.dh);
    ctx.drawImage(image, sx, sy, sw, sh, item.dx, item.dy, item.dw, item.dh);
    drawn += 1;
  };
  if (source?.kind === 'synthetic') {
    for (const item of items) {
      drawSyntheticTile(ctx, item.image, item.dx, item.dy, item.dw, source.cluster);
      drawn += 1;
    }
    await flush(true);
    return;
  }
  const bySheet = new Map<number, TileItem[]>();
  const own: TileItem[] = [];
  for (const item of items) {
    if (item.sheet >= 0 && source) {
      const list = bySheet.get(item.sheet) ?? [];
      list.push(item);
      bySheet.set(item.sheet, list);
    } else {
      own.push(item);
    }
  }
  for (const [sheet, list] of bySheet) {
    checkCancelled(id);
    let bitmap: ImageBitmap;
    try {
      bitmap = await decodedSheet(atlasKey as string, source as AtlasSource, sheet);
    } catch {
      failed += list.length;
      continue;
    }
    for (const item of list) draw(bitmap, item, item.sx, item.sy, item.sw, item.sh);
    await flush(false);
  }
  let next = 0;
  const fetchOne = async () => {
    while (next < own.length) {
      const item = own[next++] as TileItem;
      checkCancelled(id);
      try {
        const response = await fetchOk(`${API}/files/thumbnails/${item.imageId}`);
        const bitmap = await createImageBitmap(await response.blob(), { premultiplyAlpha: 'none' });
        checkCancelled(id);
        draw(bitmap, item, 0, 0, bitmap.width, bitmap.height);
        bitmap.close();
      } catch (error) {
        if (error instanceof WorkerError && error.code === 'CANCELLED') throw error;
        failed += 1;
      }
      await flush(false);
    }
  };
  await Promise.all(Array.from({ length: Math.min(THUMBNAIL_FETCHES, own.length) }, fetchOne));
  await flush(true);
}

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.type) {
    case 'cancel':
      cancelled.add(request.id);
      return;
    case 'loadMap': {
      const data = await loadMap(request.id, request.map);
      checkCancelled(request.id);
      sendMap(request.id, data);
      return;
    }
    case 'synthMap':
      sendMap(request.id, synthMap(request.count, request.seed));
      return;
    case 'align': {
      const data = align(request.reference, request.key);
      post({ type: 'map', id: request.id, data }, buffersOf(data));
      return;
    }
    case 'overview':
      await streamOverview(request.id, request.atlasKey);
      post({ type: 'done', id: request.id });
      return;
    case 'tiles':
      await drawTiles(request.id, request.atlasKey, request.width, request.height, request.items);
      post({ type: 'done', id: request.id });
      return;
    default:
      throw new WorkerError(`unknown request ${(request as { type: string }).type}`, 'BAD_USER_INPUT');
  }
}

scope.addEventListener('message', (event) => {
  const request = event.data;
  handle(request)
    .catch((error: unknown) => {
      const code = error instanceof WorkerError ? error.code : 'INTERNAL_SERVER_ERROR';
      if (code !== 'CANCELLED') post({ type: 'error', id: request.id, message: error instanceof Error ? error.message : String(error), code });
    })
    .finally(() => {
      if (request.type !== 'cancel') cancelled.delete(request.id);
    });
});
