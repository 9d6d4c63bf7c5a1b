/**
 * GPU textures of the mosaic: the overview (every image at 8 texels, filled sheet by sheet) and
 * two tile caches that hold the thumbnails of what is on screen at 32 and 128 texels. A cache
 * is a grid of cells handed out a row at a time, oldest rows first (a ring): a request's tiles
 * are contiguous, so the worker draws them into one band and the page uploads it in one call.
 */
import type { Device, SamplerProps, Texture } from '@luma.gl/core';
import type { OverviewLayout } from './map-data';

const CLAMP: SamplerProps = { addressModeU: 'clamp-to-edge', addressModeV: 'clamp-to-edge', magFilter: 'linear', minFilter: 'linear' };

export class OverviewTexture {
  readonly texture: Texture;
  readonly layout: OverviewLayout;
  loaded = 0;
  total: number;
  #mipmapsStale = false;

  constructor(device: Device, layout: OverviewLayout) {
    this.layout = layout;
    this.total = layout.slots.length / 3;
    this.texture = device.createTexture({
      id: `overview-${layout.key}`,
      format: 'rgba8unorm',
      width: layout.width,
      height: layout.height,
      mipLevels: device.getMipLevelCount(layout.width, layout.height),
      sampler: { ...CLAMP, mipmapFilter: 'linear' },
    });
  }

  put(x: number, y: number, bitmap: ImageBitmap): void {
    const width = Math.min(bitmap.width, this.layout.width - x);
    const height = Math.min(bitmap.height, this.layout.height - y);
    if (width > 0 && height > 0) this.texture.copyExternalImage({ image: bitmap, x, y, width, height });
    bitmap.close();
    this.loaded += 1;
    this.#mipmapsStale = true;
  }

  /** Called once per frame: rebuilds the mipmaps when sheets arrived since the last one. */
  beforeDraw(): void {
    if (!this.#mipmapsStale) return;
    this.#mipmapsStale = false;
    this.texture.generateMipmapsWebGL();
  }

  destroy(): void {
    this.texture.destroy();
  }
}

/** A small grey texture, drawn as squares when a map has no atlas. */
export function placeholderTexture(device: Device): Texture {
  const size = 8;
  const data = new Uint8Array(size * size * 4);
  for (let i = 0; i < size * size; i++) data.set([128, 128, 128, 200], 4 * i);
  return device.createTexture({ id: 'placeholder', format: 'rgba8unorm', width: size, height: size, data, sampler: CLAMP });
}

export interface TileRequest {
  /** Dataset position of the image (the cache key). */
  readonly image: number;
  /** Size it is drawn at in the cell (longest side = cell size). */
  readonly w: number;
  readonly h: number;
}

export interface BandItem extends TileRequest {
  readonly slot: number;
  /** Position inside the band (texels). */
  readonly dx: number;
  readonly dy: number;
}

export interface Band {
  readonly firstRow: number;
  readonly rows: number;
  readonly width: number;
  readonly height: number;
  readonly items: readonly BandItem[];
}

export class TileCache {
  readonly cellSize: number;
  readonly cols: number;
  readonly rows: number;
  readonly texture: Texture;
  /** Bumped whenever tiles are added or evicted (the pass's columns are rebuilt then). */
  version = 0;
  readonly #slotImage: Int32Array;
  /** [x, y, w, h] of each slot's thumbnail in the texture. */
  readonly #slotRect: Float32Array;
  readonly #slotOf = new Map<number, number>();
  /** Which request fills each row (0: none in flight), so evicting a row cancels its request. */
  readonly #rowTicket: Int32Array;
  #head = 0;

  constructor(device: Device, options: { cellSize: number; cols: number; rows: number; id: string }) {
    this.cellSize = options.cellSize;
    this.cols = options.cols;
    this.rows = options.rows;
    this.texture = device.createTexture({ id: options.id, format: 'rgba8unorm', width: options.cols * options.cellSize, height: options.rows * options.cellSize, sampler: CLAMP });
    this.#slotImage = new Int32Array(options.cols * options.rows).fill(-1);
    this.#slotRect = new Float32Array(4 * options.cols * options.rows);
    this.#rowTicket = new Int32Array(options.rows);
  }

  get capacity(): number {
    return this.cols * this.rows;
  }

  has(image: number): boolean {
    return this.#slotOf.has(image);
  }

  /** Every image held, with its slot: (image, slot) pairs. */
  forEach(visit: (image: number, slot: number) => void): void {
    for (const [image, slot] of this.#slotOf) visit(image, slot);
  }

  get size(): number {
    return this.#slotOf.size;
  }

  rect(slot: number, out: Float32Array, offset: number): void {
    out[offset] = this.#slotRect[4 * slot] as number;
    out[offset + 1] = this.#slotRect[4 * slot + 1] as number;
    out[offset + 2] = this.#slotRect[4 * slot + 2] as number;
    out[offset + 3] = this.#slotRect[4 * slot + 3] as number;
  }

  /**
   * Hands out rows for `requests` (at most half the cache), evicting the oldest rows; returns
   * the bands to draw (two when the ring wraps) and the tickets of requests whose rows were taken.
   */
  allocate(requests: readonly TileRequest[], ticket: number): { bands: Band[]; evictedTickets: number[] } {
    const count = Math.min(requests.length, Math.floor(this.capacity / 2));
    const rowsNeeded = Math.ceil(count / this.cols);
    const evicted = new Set<number>();
    const bands: Band[] = [];
    let next = 0;
    let remainingRows = rowsNeeded;
    while (remainingRows > 0) {
      const firstRow = this.#head;
      const rows = Math.min(remainingRows, this.rows - firstRow);
      const items: BandItem[] = [];
      for (let r = firstRow; r < firstRow + rows; r++) {
        const old = this.#rowTicket[r] as number;
        if (old !== 0 && old !== ticket) evicted.add(old);
        this.#rowTicket[r] = ticket;
        for (let c = 0; c < this.cols; c++) {
          const slot = r * this.cols + c;
          const image = this.#slotImage[slot] as number;
          if (image >= 0) this.#slotOf.delete(image);
          this.#slotImage[slot] = -1;
          this.#slotRect.fill(0, 4 * slot, 4 * slot + 4);
          if (next >= count) continue;
          const request = requests[next++] as TileRequest;
          const ox = Math.floor((this.cellSize - request.w) / 2);
          const oy = Math.floor((this.cellSize - request.h) / 2);
          this.#slotImage[slot] = request.image;
          this.#slotOf.set(request.image, slot);
          this.#slotRect.set([c * this.cellSize + ox, r * this.cellSize + oy, request.w, request.h], 4 * slot);
          items.push({ ...request, slot, dx: c * this.cellSize + ox, dy: (r - firstRow) * this.cellSize + oy });
        }
      }
      bands.push({ firstRow, rows, width: this.cols * this.cellSize, height: rows * this.cellSize, items });
      this.#head = (firstRow + rows) % this.rows;
      remainingRows -= rows;
    }
    this.version += 1;
    return { bands, evictedTickets: [...evicted] };
  }

  /** A request finished or was cancelled: its rows no longer wait for it. */
  release(ticket: number): void {
    for (let r = 0; r < this.rows; r++) if (this.#rowTicket[r] === ticket) this.#rowTicket[r] = 0;
  }

  /** Forgets the images of a request that failed, so they can be asked for again. */
  forget(items: readonly BandItem[]): void {
    for (const item of items) {
      if (this.#slotImage[item.slot] === item.image) {
        this.#slotImage[item.slot] = -1;
        this.#slotOf.delete(item.image);
        this.#slotRect.fill(0, 4 * item.slot, 4 * item.slot + 4);
      }
    }
    this.version += 1;
  }

  upload(band: Band, bitmap: ImageBitmap): void {
    const height = Math.min(bitmap.height, band.height);
    this.texture.copyExternalImage({ image: bitmap, x: 0, y: band.firstRow * this.cellSize, width: Math.min(bitmap.width, band.width), height });
    bitmap.close();
    this.version += 1;
  }

  destroy(): void {
    this.texture.destroy();
  }
}
