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

export function createRawImage(width: number, height: number, channels: RawImage['channels']): RawImage {
  return { data: new Uint8Array(width * height * channels), width, height, channels };
}
