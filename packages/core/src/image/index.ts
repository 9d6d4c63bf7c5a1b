// Image decoding and the torchvision-exact preprocessing. Loads sharp (native), so it is its
// own subpath (`@strata/core/image`) rather than part of the package root.
export { createRawImage } from './raw-image.js';
export type { RawImage } from './raw-image.js';
export { DEFAULT_MAX_PIXELS, ImageDecodeError, decodeImage } from './decode.js';
export type { DecodeOptions } from './decode.js';
export { pilResizeBilinear } from './pil-resize.js';
export type { ResizeSize } from './pil-resize.js';
export {
  IMAGENET_MEAN,
  IMAGENET_STD,
  PREPROCESSED_LENGTH,
  centerCropNormalize,
  centerCropOffset,
  preprocessImage,
  resizedSize,
} from './preprocess.js';
export { encodeImageFile, encodeRawImage } from './encode.js';
export type { EncodeOptions } from './encode.js';
