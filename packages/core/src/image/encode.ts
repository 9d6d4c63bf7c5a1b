/**
 * Encoding images for display (the API's /files routes): an RGB RawImage or an image file to
 * PNG or JPEG, optionally shrunk to fit a square. Display only: nothing downstream of the model
 * uses these pixels.
 */
import sharp, { type Sharp } from 'sharp';
import type { RawImage } from './raw-image.js';

export interface EncodeOptions {
  readonly format: 'png' | 'jpeg';
  /** Shrink (never enlarge) to fit a size x size square, keeping the aspect ratio. */
  readonly fit?: number;
  /** JPEG quality, 1-100. Default 85. */
  readonly quality?: number;
  /** Files only: refuse images with more pixels than this. Default sharp's (268 megapixels). */
  readonly maxPixels?: number;
}

function encode(pipeline: Sharp, options: EncodeOptions): Promise<Buffer> {
  const fitted = options.fit ? pipeline.resize(options.fit, options.fit, { fit: 'inside', withoutEnlargement: true }) : pipeline;
  return options.format === 'png' ? fitted.png().toBuffer() : fitted.jpeg({ quality: options.quality ?? 85 }).toBuffer();
}

export function encodeRawImage(image: RawImage, options: EncodeOptions): Promise<Buffer> {
  const data = Buffer.from(image.data.buffer, image.data.byteOffset, image.data.byteLength);
  return encode(sharp(data, { raw: { width: image.width, height: image.height, channels: image.channels as 3 } }), options);
}

export function encodeImageFile(path: string, options: EncodeOptions): Promise<Buffer> {
  return encode(sharp(path, options.maxPixels ? { limitInputPixels: options.maxPixels } : {}), options);
}
