import type { RawImage } from '../image/raw-image.js';

/** A problem with one image of a source, named by its index and id (path or dataset row). */
export class ImageReadError extends Error {
  constructor(
    readonly index: number,
    readonly id: string,
    readonly reason: string,
  ) {
    super(`image ${index} (${id}): ${reason}`);
    this.name = 'ImageReadError';
  }
}

export type SourceResult =
  | { readonly ok: true; readonly index: number; readonly id: string; readonly image: RawImage }
  | { readonly ok: false; readonly index: number; readonly id: string; readonly error: ImageReadError };

/**
 * A finite, ordered set of images. Images come out as 8-bit RGB (3 channels, HWC), converted
 * the way PIL's `Image.convert('RGB')` would.
 */
export interface ImageSource {
  /** Human-readable location: a file path (+ dataset) or a folder. */
  readonly location: string;
  /** Number of images. */
  readonly size: number;
  /** Stable identifier of image `index`: relative path for folders, the row number for HDF5. */
  idOf(index: number): string;
  /**
   * Reads images [start, end). A bad image yields `ok: false` with the reason instead of
   * throwing, so that a run can report it and go on.
   */
  readBatch(start: number, end: number): Promise<SourceResult[]>;
  close(): Promise<void>;
}
