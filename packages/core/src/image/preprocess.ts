/**
 * The torchvision 0.14 ImageNet transform that the reference recipe applies to a PIL image:
 *
 *   Compose([Resize(224), CenterCrop(224), ToTensor(),
 *            Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225])])
 *
 * reproduced to the bit: the resize is Pillow's (pil-resize.ts), the sizes and offsets use
 * Python's truncation and round-half-even, and the arithmetic is float32 in torch's order.
 */
import { INPUT_SIZE } from '../layers.js';
import { pilResizeBilinear } from './pil-resize.js';
import type { RawImage } from './raw-image.js';

/** Floats written per image: 3 × 224 × 224, CHW. */
export const PREPROCESSED_LENGTH = 3 * INPUT_SIZE * INPUT_SIZE;
export const IMAGENET_MEAN: readonly [number, number, number] = Object.freeze([0.485, 0.456, 0.406] as const);
export const IMAGENET_STD: readonly [number, number, number] = Object.freeze([0.229, 0.224, 0.225] as const);

/**
 * torchvision's `_compute_resized_output_size` for an int size: the shorter side becomes
 * `shortSide`, the longer `int(shortSide * long / short)` (a double division, truncated).
 */
export function resizedSize(width: number, height: number, shortSide: number = INPUT_SIZE): { width: number; height: number } {
  if (width <= height) {
    return { width: shortSide, height: Math.trunc((shortSide * height) / width) };
  }
  return { width: Math.trunc((shortSide * width) / height), height: shortSide };
}

/**
 * Where a centred crop of `crop` pixels starts along an axis of `size` pixels, as torchvision's
 * `center_crop` computes it: `int(round((size - crop) / 2.0))` with Python's round-half-even.
 * When the crop is larger than the image torchvision first pads with zeros, `(crop - size) // 2`
 * before; the result is then negative and positions before 0 (or past `size`) are padding.
 */
export function centerCropOffset(size: number, crop: number): number {
  if (crop > size) return -Math.floor((crop - size) / 2);
  const half = (size - crop) / 2; // an integer or an exact .5
  const floor = Math.floor(half);
  if (half - floor !== 0.5) return half;
  return floor % 2 === 0 ? floor : floor + 1;
}

/**
 * ToTensor then Normalize for every byte value, per channel: `(v / 255 - mean) / std` with
 * each step rounded to float32 as torch does on float32 tensors (true division, not a
 * multiplication by the reciprocal). 768 entries: the per-pixel work is a table look-up.
 */
const NORMALISED = (() => {
  const table = new Float32Array(3 * 256);
  for (let c = 0; c < 3; c++) {
    const mean = Math.fround(IMAGENET_MEAN[c] ?? 0);
    const std = Math.fround(IMAGENET_STD[c] ?? 1);
    for (let v = 0; v < 256; v++) {
      const unit = Math.fround(v / 255);
      table[c * 256 + v] = Math.fround(Math.fround(unit - mean) / std);
    }
  }
  return table;
})();

/**
 * Runs the transform on an 8-bit RGB image and writes the 3×224×224 CHW float32 tensor at
 * `offset` of `out` (a new array when `out` is not given). Returns `out`.
 */
export function preprocessImage(image: RawImage, out?: Float32Array, offset = 0): Float32Array {
  checkRgb(image);
  const size = resizedSize(image.width, image.height);
  // Resize(224) on an image whose short side is already 224 is a copy in PIL: skip it.
  const resized = size.width === image.width && size.height === image.height ? image : pilResizeBilinear(image, size);
  return centerCropNormalize(resized, out, offset);
}

/**
 * The transform without Resize: CenterCrop(224) (zero-padding an image smaller than the crop,
 * as torchvision does), ToTensor, Normalize. Same output contract as preprocessImage.
 */
export function centerCropNormalize(image: RawImage, out?: Float32Array, offset = 0): Float32Array {
  checkRgb(image);
  const target = out ?? new Float32Array(PREPROCESSED_LENGTH);
  if (!Number.isInteger(offset) || offset < 0 || offset + PREPROCESSED_LENGTH > target.length) {
    throw new RangeError(
      `offset ${offset} + ${PREPROCESSED_LENGTH} floats does not fit an output of length ${target.length}`,
    );
  }
  const { data, width, height } = image;
  const top = centerCropOffset(height, INPUT_SIZE);
  const left = centerCropOffset(width, INPUT_SIZE);
  const plane = INPUT_SIZE * INPUT_SIZE;

  for (let c = 0; c < 3; c++) {
    const lut = c * 256;
    // Zero padding is the byte 0, normalised like any other.
    const padding = NORMALISED[lut] ?? 0;
    let o = offset + c * plane;
    for (let y = 0; y < INPUT_SIZE; y++) {
      const sy = y + top;
      const rowInside = sy >= 0 && sy < height;
      const rowBase = sy * width;
      for (let x = 0; x < INPUT_SIZE; x++, o++) {
        const sx = x + left;
        target[o] =
          rowInside && sx >= 0 && sx < width ? (NORMALISED[lut + (data[(rowBase + sx) * 3 + c] ?? 0)] ?? 0) : padding;
      }
    }
  }
  return target;
}

function checkRgb(image: RawImage): void {
  if (image.channels !== 3) {
    throw new RangeError(`expected an RGB image (3 channels), got ${image.channels} channels`);
  }
  if (image.data.length !== image.width * image.height * 3) {
    throw new RangeError(
      `image data has ${image.data.length} bytes, expected ${image.width}x${image.height}x3 = ${image.width * image.height * 3}`,
    );
  }
}
