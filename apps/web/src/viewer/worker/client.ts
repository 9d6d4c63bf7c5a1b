/**
 * The page's side of the map worker: one worker per page, requests matched to responses by id,
 * progress callbacks, and cancellation (a superseded request is cancelled, never awaited).
 */
import type { MapData } from '../map-data';
import type { MapRequestKey, Stage, TileItem, WorkerRequest, WorkerResponse } from './protocol';

export class MapWorkerError extends Error {
  constructor(
    message: string,
    readonly code: string,
  ) {
    super(message);
    this.name = 'MapWorkerError';
  }
}

export interface Progress {
  readonly stage: Stage;
  readonly done: number;
  readonly total: number;
}

interface Pending {
  readonly resolve: (value: unknown) => void;
  readonly reject: (error: Error) => void;
  readonly onProgress?: (progress: Progress) => void;
  readonly onTile?: (tile: { x: number; y: number; bitmap: ImageBitmap; done: number; total: number }) => void;
  readonly onBand?: (band: { bitmap: ImageBitmap; drawn: number; failed: number }) => void;
}

type Distribute<T> = T extends unknown ? Omit<T, 'id'> : never;
type RequestBody = Distribute<Exclude<WorkerRequest, { type: 'cancel' }>>;

export class MapWorkerClient {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #next = 1;
  #disposed = false;

  constructor() {
    this.#worker = new Worker(new URL('./map.worker.ts', import.meta.url), { type: 'module', name: 'strata-map' });
    this.#worker.addEventListener('message', (event: MessageEvent<WorkerResponse>) => this.#receive(event.data));
    this.#worker.addEventListener('error', (event) => {
      for (const [id, pending] of this.#pending) {
        pending.reject(new MapWorkerError(`the map worker failed: ${event.message || 'unknown error'}`, 'WORKER'));
        this.#pending.delete(id);
      }
    });
  }

  #receive(message: WorkerResponse): void {
    const pending = this.#pending.get(message.id);
    if (!pending) {
      // A late answer to a cancelled request: release what it carried.
      if (message.type === 'overviewTile' || message.type === 'band') message.bitmap.close();
      return;
    }
    switch (message.type) {
      case 'progress':
        pending.onProgress?.({ stage: message.stage, done: message.done, total: message.total });
        return;
      case 'overviewTile':
        if (pending.onTile) pending.onTile(message);
        else message.bitmap.close();
        return;
      case 'map':
        this.#pending.delete(message.id);
        pending.resolve(message.data);
        return;
      case 'band':
        if (pending.onBand) pending.onBand(message);
        else message.bitmap.close();
        return;
      case 'done':
        this.#pending.delete(message.id);
        pending.resolve(undefined);
        return;
      case 'error':
        this.#pending.delete(message.id);
        pending.reject(new MapWorkerError(message.message, message.code));
        return;
      default:
        throw new Error(`unknown worker message ${(message as { type: string }).type}`);
    }
  }

  #request<T>(body: RequestBody, options: { signal?: AbortSignal; onProgress?: Pending['onProgress']; onTile?: Pending['onTile']; onBand?: Pending['onBand'] } = {}): Promise<T> {
    if (this.#disposed) return Promise.reject(new MapWorkerError('the map worker is closed', 'CANCELLED'));
    const id = this.#next++;
    return new Promise<T>((resolve, reject) => {
      if (options.signal?.aborted) {
        reject(new MapWorkerError('cancelled', 'CANCELLED'));
        return;
      }
      this.#pending.set(id, { resolve: resolve as (value: unknown) => void, reject, ...(options.onProgress ? { onProgress: options.onProgress } : {}), ...(options.onTile ? { onTile: options.onTile } : {}), ...(options.onBand ? { onBand: options.onBand } : {}) });
      options.signal?.addEventListener(
        'abort',
        () => {
          if (!this.#pending.has(id)) return;
          this.#pending.delete(id);
          this.#worker.postMessage({ type: 'cancel', id } satisfies WorkerRequest);
          reject(new MapWorkerError('cancelled', 'CANCELLED'));
        },
        { once: true },
      );
      this.#worker.postMessage({ ...body, id } as WorkerRequest);
    });
  }

  loadMap(map: MapRequestKey, options: { signal?: AbortSignal; onProgress?: (progress: Progress) => void } = {}): Promise<MapData> {
    return this.#request<MapData>({ type: 'loadMap', map }, options);
  }

  synthMap(count: number, seed: number, options: { signal?: AbortSignal } = {}): Promise<MapData> {
    return this.#request<MapData>({ type: 'synthMap', count, seed }, options);
  }

  align(reference: string, key: string, options: { signal?: AbortSignal } = {}): Promise<MapData> {
    return this.#request<MapData>({ type: 'align', reference, key }, options);
  }

  overview(atlasKey: string, onTile: NonNullable<Pending['onTile']>, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#request<void>({ type: 'overview', atlasKey }, { ...options, onTile });
  }

  tiles(atlasKey: string | null, width: number, height: number, items: readonly TileItem[], onBand: NonNullable<Pending['onBand']>, options: { signal?: AbortSignal } = {}): Promise<void> {
    return this.#request<void>({ type: 'tiles', atlasKey, width, height, items }, { ...options, onBand });
  }

  dispose(): void {
    if (this.#disposed) return;
    this.#disposed = true;
    for (const pending of this.#pending.values()) pending.reject(new MapWorkerError('the map worker is closed', 'CANCELLED'));
    this.#pending.clear();
    this.#worker.terminate();
  }
}

export function isCancelled(error: unknown): boolean {
  return error instanceof MapWorkerError && error.code === 'CANCELLED';
}
