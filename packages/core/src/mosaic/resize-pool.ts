/**
 * Resizing on worker threads, for the mosaic and the atlas, whose run time is almost all
 * Pillow-exact resampling (about 3x PIL's C per image in JavaScript, on one core). The caller
 * keeps reading and pasting in order on its own thread while the workers resize.
 *
 * The worker is the compiled `resize-worker.js` next to this module. Under a TypeScript-source
 * runner (vitest runs src/*.ts) there is none, and the pool resizes on the calling thread; the
 * pixels are the same either way (the same function runs on both).
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import { type PilFilter, pilResize } from '../image/pil-resize.js';
import type { RawImage } from '../image/raw-image.js';

export interface ResizeRequest {
  readonly id: number;
  readonly data: Uint8Array;
  readonly width: number;
  readonly height: number;
  readonly channels: RawImage['channels'];
  readonly targets: readonly (readonly [number, number])[];
  readonly filter: PilFilter;
}

export type ResizeReply = { readonly id: number; readonly ok: true; readonly results: Uint8Array[] } | { readonly id: number; readonly ok: false; readonly error: string };

export interface ResizePool {
  /** Threads resizing, 0 when everything runs on the calling thread. */
  readonly workers: number;
  /** The image resized to each target (width, height), in order. */
  resize(image: RawImage, targets: readonly (readonly [number, number])[]): Promise<RawImage[]>;
  close(): Promise<void>;
}

/**
 * Default worker count: one per core, at most 8. The calling thread only reads and pastes
 * (about a tenth of the work), so it does not need a core of its own.
 */
export function defaultResizeWorkers(): number {
  return Math.max(0, Math.min(8, availableParallelism()));
}

function workerUrl(): URL | undefined {
  const url = new URL('./resize-worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
}

export function createResizePool(options: { readonly workers?: number; readonly filter: PilFilter }): ResizePool {
  const wanted = options.workers ?? defaultResizeWorkers();
  if (!Number.isInteger(wanted) || wanted < 0) throw new RangeError(`workers must be an integer >= 0, got ${String(wanted)}`);
  const url = wanted > 0 ? workerUrl() : undefined;
  if (url === undefined) return inlinePool(options.filter);
  return workerPool(url, wanted, options.filter);
}

function inlinePool(filter: PilFilter): ResizePool {
  return {
    workers: 0,
    resize: (image, targets) => Promise.resolve(targets.map(([width, height]) => pilResize(image, { width, height }, { filter }))),
    close: () => Promise.resolve(),
  };
}

function workerPool(url: URL, count: number, filter: PilFilter): ResizePool {
  interface Pending {
    readonly resolve: (images: RawImage[]) => void;
    readonly reject: (error: Error) => void;
    readonly targets: readonly (readonly [number, number])[];
    readonly channels: RawImage['channels'];
  }
  const workers = Array.from({ length: count }, () => new Worker(url));
  const load = new Int32Array(count);
  const pending = new Map<number, Pending>();
  let nextId = 0;
  let failure: Error | undefined;
  workers.forEach((worker, w) => {
    worker.on('message', (reply: ResizeReply) => {
      load[w] = (load[w] ?? 1) - 1;
      const entry = pending.get(reply.id);
      if (entry === undefined) return;
      pending.delete(reply.id);
      if (!reply.ok) {
        entry.reject(new Error(reply.error));
        return;
      }
      entry.resolve(reply.results.map((data, k) => {
        const [width, height] = entry.targets[k] ?? [0, 0];
        return { data, width, height, channels: entry.channels };
      }));
    });
    worker.on('error', (error) => {
      failure = error;
      for (const entry of pending.values()) entry.reject(error);
      pending.clear();
    });
  });
  return {
    workers: count,
    resize(image, targets) {
      if (failure !== undefined) return Promise.reject(failure);
      // The least busy worker; a copy of the pixels is transferred, so the caller's image stays usable.
      let w = 0;
      for (let k = 1; k < count; k++) if ((load[k] ?? 0) < (load[w] ?? 0)) w = k;
      load[w] = (load[w] ?? 0) + 1;
      const id = nextId++;
      const data = image.data.slice();
      return new Promise<RawImage[]>((resolve, reject) => {
        pending.set(id, { resolve, reject, targets, channels: image.channels });
        const request: ResizeRequest = { id, data, width: image.width, height: image.height, channels: image.channels, targets, filter };
        workers[w]?.postMessage(request, [data.buffer as ArrayBuffer]);
      });
    },
    async close() {
      await Promise.all(workers.map((worker) => worker.terminate()));
    },
  };
}
