/**
 * An 8-bit image as decoded pixels: interleaved (HWC) typed array plus its shape.
 * The one image type the whole pipeline passes around.
 */
export interface RawImage {
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: 1 | 2 | 3 | 4;
}

/**
 * The most pixels an image may have, whatever holds it (an image file, an HDF5 brick). PIL
 * refuses images over `2 * Image.MAX_IMAGE_PIXELS` (2 * 89,478,485) with a
 * DecompressionBombError; the same limit keeps us from trying what the reference cannot do.
 * Here rather than in decode.ts so that sources that never decode (HDF5) need not load sharp.
 */
export const DEFAULT_MAX_PIXELS = 178_956_970;

export function createRawImage(width: number, height: number, channels: RawImage['channels']): RawImage {
  return { data: new Uint8Array(width * height * channels), width, height, channels };
}
