/**
 * The mosaic canvas: `Image.new('RGBA', (width, height))` (transparent black) and PIL's
 * `paste(tile, (x, y), mask=tile.convert('RGBA'))`, with its clipping and blending arithmetic.
 */
import type { RawImage } from '../image/raw-image.js';

/**
 * Default most pixels of a canvas: 250 million, i.e. 1 GB of RGBA, about what one PNG
 * encode can hold comfortably next to the images being read. A 4000x3000 map is 12 million.
 */
export const DEFAULT_MAX_CANVAS_PIXELS = 250_000_000;

/** Largest typed array V8 gives us (2^32 - 1 bytes on 64-bit Node 20+); a hard ceiling. */
const MAX_CANVAS_BYTES = 2 ** 32 - 1;

export interface CanvasOptions {
  /** Refuse canvases with more pixels than this. Default DEFAULT_MAX_CANVAS_PIXELS. */
  readonly maxPixels?: number;
}

/** A transparent-black RGBA canvas, refused up front when it is over the pixel budget. */
export function createCanvas(width: number, height: number, options: CanvasOptions = {}): RawImage {
  for (const [name, value] of [['width', width], ['height', height]] as const) {
    if (!Number.isSafeInteger(value) || value < 1) throw new RangeError(`canvas ${name} must be a positive integer, got ${String(value)}`);
  }
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_CANVAS_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) throw new RangeError(`maxPixels must be a positive integer, got ${String(maxPixels)}`);
  const pixels = width * height;
  const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
  if (pixels > maxPixels) {
    throw new RangeError(
      `canvas ${width}x${height} is ${pixels} pixels (${mib(pixels * 4)} RGBA), over the budget of ${maxPixels} pixels; ` +
        'lower the width/height, or raise the budget (--max-pixels) if the machine has the memory',
    );
  }
  if (pixels * 4 > MAX_CANVAS_BYTES) {
    throw new RangeError(`canvas ${width}x${height} needs ${mib(pixels * 4)} RGBA, over the ${mib(MAX_CANVAS_BYTES)} a single buffer can hold`);
  }
  return { data: new Uint8Array(pixels * 4), width, height, channels: 4 };
}

/**
 * `canvas.paste(tile, (x, y), mask=tile.convert('RGBA'))` onto an RGBA canvas. L and RGB tiles
 * are opaque, so their pixels replace the canvas's (PIL's blend with alpha 255 is exactly a
 * copy, and converts L to RGBA by repeating it). An RGBA tile is blended with its own alpha
 * using PIL's integer formula, alpha channel included, as paste_mask_RGBA does. Parts of the
 * tile outside the canvas are clipped.
 */
export function pasteTile(canvas: RawImage, tile: RawImage, x: number, y: number): void {
  if (canvas.channels !== 4) throw new RangeError(`canvas must be RGBA (4 channels), got ${canvas.channels}`);
  if (tile.channels === 2) throw new RangeError('tile must have 1 (L), 3 (RGB) or 4 (RGBA) channels, got 2 (LA)');
  if (!Number.isInteger(x) || !Number.isInteger(y)) throw new RangeError(`paste position must be integers, got (${x}, ${y})`);
  const x0 = Math.max(0, x);
  const y0 = Math.max(0, y);
  const x1 = Math.min(canvas.width, x + tile.width);
  const y1 = Math.min(canvas.height, y + tile.height);
  if (x1 <= x0 || y1 <= y0) return;
  const out = canvas.data;
  const src = tile.data;
  const c = tile.channels;
  const span = x1 - x0;
  for (let yy = y0; yy < y1; yy++) {
    let o = (yy * canvas.width + x0) * 4;
    let p = ((yy - y) * tile.width + (x0 - x)) * c;
    if (c === 3) {
      for (let i = 0; i < span; i++, o += 4, p += 3) {
        out[o] = src[p] ?? 0;
        out[o + 1] = src[p + 1] ?? 0;
        out[o + 2] = src[p + 2] ?? 0;
        out[o + 3] = 255;
      }
    } else if (c === 1) {
      for (let i = 0; i < span; i++, o += 4, p += 1) {
        const v = src[p] ?? 0;
        out[o] = v;
        out[o + 1] = v;
        out[o + 2] = v;
        out[o + 3] = 255;
      }
    } else {
      for (let i = 0; i < span; i++, o += 4, p += 4) {
        const a = src[p + 3] ?? 0;
        for (let k = 0; k < 4; k++) {
          // BLEND(mask, in1, in2) = DIV255(in1 * (255 - mask) + in2 * mask), DIV255(v) with +128 rounding.
          const t = (out[o + k] ?? 0) * (255 - a) + (src[p + k] ?? 0) * a + 128;
          out[o + k] = ((t >> 8) + t) >> 8;
        }
      }
    }
  }
}
