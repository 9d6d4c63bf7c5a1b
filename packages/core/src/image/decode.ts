/**
 * Decodes an image file to 8-bit RGB exactly as `PIL.Image.open(f).convert('RGB')` does, so
 * that everything downstream sees the same pixels as the PyTorch/torchvision reference recipe.
 *
 * sharp (libvips) does the decoding: its JPEG (libjpeg-turbo family, default IDCT and fancy
 * upsampling), PNG, WebP and TIFF decoders give the same samples as PIL's. What differs is what
 * happens after decoding, and that is done here instead:
 * - sharp converts to sRGB through embedded ICC profiles; PIL ignores them (`ignoreIcc`).
 * - sharp converts CMYK through an ICC transform; PIL uses its own naive formula (`cmykToRgb`).
 * - 16-bit samples: PIL keeps the high byte of colour samples, but opens 16-bit greyscale
 *   (PNG colour type 0, TIFF) as a 32-bit integer image and `convert` then *clips* it to 255.
 * - Alpha is dropped without compositing, as `convert('RGB')` does.
 * EXIF orientation is not applied: PIL's `open` does not apply it either.
 */
import { readFile } from 'node:fs/promises';
import sharp, { type Metadata, type OutputInfo } from 'sharp';
import { DEFAULT_MAX_PIXELS, type RawImage } from './raw-image.js';

export { DEFAULT_MAX_PIXELS };

export interface DecodeOptions {
  /** Refuse images with more pixels than this, before decoding any. Default DEFAULT_MAX_PIXELS. */
  readonly maxPixels?: number;
}

/** Formats whose decoding is verified against PIL (test/decode.test.ts). */
const SUPPORTED_FORMATS: ReadonlySet<string> = new Set(['jpeg', 'png', 'webp', 'tiff']);

/** A decode failure; `message` is `${source}: ${reason}`, `source` the path or a buffer label. */
export class ImageDecodeError extends Error {
  constructor(
    readonly source: string,
    readonly reason: string,
  ) {
    super(`${source}: ${reason}`);
    this.name = 'ImageDecodeError';
  }
}

/** A failure whose reason comes from libvips' error buffer, which concurrent decodes share. */
class LibvipsDecodeError extends ImageDecodeError {}

/**
 * libvips keeps one error buffer for the whole process, and sharp reports what is in it when an
 * operation fails: with several decodes at once (a folder source reads a few files at a time),
 * a failing file can get another file's reason, several reasons, or "Unknown error". So a
 * decode that fails in libvips is run again alone — after the decodes in flight, before any new
 * one — and that second failure, with its own reason, is the one reported. Failures are rare;
 * the decodes that succeed never wait.
 */
let decodesInFlight = 0;
let aloneUntil: Promise<void> | undefined;
const waitingForIdle: (() => void)[] = [];

async function together<T>(task: () => Promise<T>): Promise<T> {
  while (aloneUntil) await aloneUntil;
  decodesInFlight++;
  try {
    return await task();
  } finally {
    decodesInFlight--;
    if (decodesInFlight === 0) for (const wake of waitingForIdle.splice(0)) wake();
  }
}

async function alone<T>(task: () => Promise<T>): Promise<T> {
  while (aloneUntil) await aloneUntil;
  let release = (): void => undefined;
  aloneUntil = new Promise<void>((resolve) => (release = resolve));
  try {
    while (decodesInFlight > 0) await new Promise<void>((resolve) => waitingForIdle.push(resolve));
    return await task();
  } finally {
    aloneUntil = undefined;
    release();
  }
}

export async function decodeImage(input: string | Uint8Array, options: DecodeOptions = {}): Promise<RawImage> {
  const maxPixels = options.maxPixels ?? DEFAULT_MAX_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels < 1) {
    throw new RangeError(`maxPixels must be a positive integer, got ${String(maxPixels)}`);
  }
  const source = typeof input === 'string' ? input : `<in-memory image of ${input.byteLength} bytes>`;
  const bytes = typeof input === 'string' ? await readImageFile(input) : input;
  if (bytes.byteLength === 0) throw new ImageDecodeError(source, 'empty file, not an image');
  try {
    return await together(() => decodeBytes(bytes, source, maxPixels));
  } catch (error) {
    if (!(error instanceof LibvipsDecodeError)) throw error;
    return alone(() => decodeBytes(bytes, source, maxPixels));
  }
}

async function decodeBytes(bytes: Uint8Array, source: string, maxPixels: number): Promise<RawImage> {
  // A view, not a copy: sharp wants a Buffer.
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);

  // Metadata only reads the header, so the size check happens before any pixel is decoded.
  let meta: Metadata;
  try {
    meta = await sharp(buffer, { ignoreIcc: true, limitInputPixels: false }).metadata();
  } catch (error) {
    const message = errorMessage(error);
    throw new LibvipsDecodeError(
      source,
      /unsupported image format/i.test(message)
        ? 'unrecognised or unsupported image format (expected JPEG, PNG, WebP or TIFF)'
        : `corrupt image header (${message.replace(/^Input (buffer|file) has corrupt header: /, '')})`,
    );
  }
  if (!SUPPORTED_FORMATS.has(meta.format)) {
    throw new ImageDecodeError(
      source,
      `unsupported image format '${meta.format}' (expected one of ${[...SUPPORTED_FORMATS].join(', ')})`,
    );
  }
  const { width, height } = meta;
  if (width * height > maxPixels) {
    throw new ImageDecodeError(
      source,
      `image is ${width}x${height} = ${width * height} pixels, over the limit of ${maxPixels} ` +
        '(decompression-bomb guard, as in PIL)',
    );
  }
  if (meta.depth !== 'uchar' && meta.depth !== 'ushort') {
    throw new ImageDecodeError(source, `unsupported sample format '${String(meta.depth)}' (expected 8 or 16 bits unsigned)`);
  }

  // 'error' fails on truncated or broken pixel data, as PIL does, but not on decoder warnings
  // (e.g. extraneous bytes before a JPEG marker) that PIL also lets through.
  const pipeline = sharp(buffer, { ignoreIcc: true, autoOrient: false, limitInputPixels: maxPixels, failOn: 'error' });
  const space = meta.space;
  switch (space) {
    case 'cmyk':
      // Keeping the pipeline in CMYK stops sharp's ICC transform; we want the raw inks.
      pipeline.pipelineColourspace('cmyk').toColourspace('cmyk').raw({ depth: 'uchar' });
      break;
    case 'srgb':
    case 'rgb':
    case 'b-w':
    case 'rgb16':
    case 'grey16':
      // Asking for the colour space the image already has makes sharp leave the samples alone.
      pipeline.toColourspace(space).raw({ depth: meta.depth });
      break;
    default:
      throw new ImageDecodeError(
        source,
        `unsupported colour space '${String(space)}' (expected sRGB, greyscale or CMYK)`,
      );
  }

  let decoded: { data: Buffer; info: OutputInfo };
  try {
    decoded = await pipeline.toBuffer({ resolveWithObject: true });
  } catch (error) {
    throw new LibvipsDecodeError(source, `corrupt or truncated image data (${errorMessage(error)})`);
  }
  const { data, info } = decoded;
  if (info.width !== width || info.height !== height) {
    throw new ImageDecodeError(source, `decoded ${info.width}x${info.height}, header said ${width}x${height}`);
  }

  const pixels = width * height;
  const channels = info.channels;
  const out = new Uint8Array(pixels * 3);
  if (space === 'cmyk') {
    if (channels < 4) throw new ImageDecodeError(source, `CMYK image decoded with ${channels} channels, expected 4`);
    cmykToRgb(data, channels, out);
  } else if (meta.depth === 'ushort') {
    const samples = new Uint16Array(data.buffer, data.byteOffset, data.byteLength / 2);
    if (channels <= 2) {
      // PIL opens 16-bit grey as mode "I" and clips to 255 when converting; 16-bit grey+alpha
      // (PNG colour type 4) it unpacks as "LA;16B", which keeps the high byte.
      if (pngColourType(bytes) === 4) greyToRgb16(samples, channels, out, highByte);
      else greyToRgb16(samples, channels, out, clipTo255);
    } else {
      for (let i = 0, o = 0; i < pixels; i++, o += 3) {
        const s = i * channels;
        out[o] = (samples[s] ?? 0) >> 8;
        out[o + 1] = (samples[s + 1] ?? 0) >> 8;
        out[o + 2] = (samples[s + 2] ?? 0) >> 8;
      }
    }
  } else if (channels <= 2) {
    for (let i = 0, o = 0; i < pixels; i++, o += 3) {
      const v = data[i * channels] ?? 0;
      out[o] = v;
      out[o + 1] = v;
      out[o + 2] = v;
    }
  } else if (channels === 3) {
    out.set(data.subarray(0, pixels * 3));
  } else {
    for (let i = 0, o = 0; i < pixels; i++, o += 3) {
      const s = i * channels;
      out[o] = data[s] ?? 0;
      out[o + 1] = data[s + 1] ?? 0;
      out[o + 2] = data[s + 2] ?? 0;
    }
  }
  return { data: out, width, height, channels: 3 };
}

async function readImageFile(path: string): Promise<Uint8Array> {
  try {
    return await readFile(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    const reason = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory, not an image file' : errorMessage(error);
    throw new ImageDecodeError(path, `cannot read file: ${reason}`);
  }
}

/**
 * PIL's cmyk2rgb (libImaging/Convert.c): R = nk - nk*C/255 with nk = 255 - K, the division
 * done as MULDIV255's rounded shifts. Inverted (Adobe) CMYK JPEGs come out of both PIL and
 * libvips already un-inverted.
 */
function cmykToRgb(data: Uint8Array, channels: number, out: Uint8Array): void {
  const pixels = out.length / 3;
  for (let i = 0, o = 0; i < pixels; i++, o += 3) {
    const s = i * channels;
    const nk = 255 - (data[s + 3] ?? 0);
    for (let c = 0; c < 3; c++) {
      const t = (data[s + c] ?? 0) * nk + 128;
      const v = nk - (((t >> 8) + t) >> 8);
      out[o + c] = v < 0 ? 0 : v;
    }
  }
}

function highByte(v: number): number {
  return v >> 8;
}

function clipTo255(v: number): number {
  return v > 255 ? 255 : v;
}

function greyToRgb16(samples: Uint16Array, channels: number, out: Uint8Array, toByte: (v: number) => number): void {
  const pixels = out.length / 3;
  for (let i = 0, o = 0; i < pixels; i++, o += 3) {
    const v = toByte(samples[i * channels] ?? 0);
    out[o] = v;
    out[o + 1] = v;
    out[o + 2] = v;
  }
}

/** The IHDR colour type of a PNG file, or -1 when `bytes` is not a PNG. */
function pngColourType(bytes: Uint8Array): number {
  const signature = [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a];
  if (bytes.length < 26 || signature.some((b, i) => bytes[i] !== b)) return -1;
  // Signature (8), IHDR length (4), "IHDR" (4), width (4), height (4), bit depth (1), colour type.
  return bytes[25] ?? -1;
}

function errorMessage(error: unknown): string {
  const text = error instanceof Error ? error.message : String(error);
  // libvips repeats its complaint once per tile; one line is enough to say what went wrong.
  return text.split('\n').find((line) => line.trim() !== '')?.trim() ?? text;
}
