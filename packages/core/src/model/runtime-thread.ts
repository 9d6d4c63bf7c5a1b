/**
 * An onnxruntime session on a worker thread of its own.
 *
 * onnxruntime-node's `session.run` is asynchronous in name only: it runs the whole model on
 * the JavaScript thread (inside a setImmediate), so nothing else in the process moves while a
 * batch is computed. Measured here at pool1, that serialises decoding, resizing and writing
 * with inference and costs a third of the throughput; on the API it would block every request
 * for the length of a forward pass. On a worker thread the model runs while the calling
 * thread prepares the next batch and writes the last one.
 *
 * The worker is the compiled `runtime-thread-worker.js` next to this module. Under a
 * TypeScript-source runner (vitest runs src/*.ts) there is none, and `runtimeThreadAvailable()`
 * says so; callers then use `RuntimeSession` on their own thread (same numbers either way).
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';

import type { ExecutionProvider, FloatTensor, SessionOptions } from './runtime.js';

/** Messages to the worker. */
export type RuntimeThreadRequest =
  | { readonly kind: 'create'; readonly model: Uint8Array; readonly options: SessionOptions }
  | { readonly kind: 'run'; readonly id: number; readonly feeds: Record<string, FloatTensor>; readonly outputs?: readonly string[] }
  | { readonly kind: 'dispose' };

/** Messages from the worker. */
export type RuntimeThreadReply =
  | { readonly kind: 'created'; readonly inputNames: string[]; readonly outputNames: string[]; readonly executionProvider: ExecutionProvider }
  | { readonly kind: 'result'; readonly id: number; readonly outputs: [string, FloatTensor][] }
  | { readonly kind: 'error'; readonly id?: number; readonly message: string; readonly name: string }
  | { readonly kind: 'disposed' };

function workerUrl(): URL | undefined {
  const url = new URL('./runtime-thread-worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
}

/** True when sessions can run on a worker thread (the compiled worker exists). */
export function runtimeThreadAvailable(): boolean {
  return workerUrl() !== undefined;
}

function errorFrom(reply: { message: string; name: string }): Error {
  const error = reply.name === 'RangeError' ? new RangeError(reply.message) : reply.name === 'TypeError' ? new TypeError(reply.message) : new Error(reply.message);
  return error;
}

interface Pending {
  readonly resolve: (outputs: Map<string, FloatTensor>) => void;
  readonly reject: (error: Error) => void;
}

/** Same surface as RuntimeSession; runs are queued on the worker and answered in order. */
export class ThreadedRuntimeSession {
  readonly #worker: Worker;
  readonly #pending = new Map<number, Pending>();
  #nextId = 0;
  #failure: Error | undefined;
  #disposed: Promise<void> | undefined;

  private constructor(
    worker: Worker,
    readonly executionProvider: ExecutionProvider,
    readonly inputNames: readonly string[],
    readonly outputNames: readonly string[],
  ) {
    this.#worker = worker;
    worker.on('message', (reply: RuntimeThreadReply) => {
      if (reply.kind !== 'result' && reply.kind !== 'error') return;
      const entry = reply.id === undefined ? undefined : this.#pending.get(reply.id);
      if (entry === undefined || reply.id === undefined) return;
      this.#pending.delete(reply.id);
      if (reply.kind === 'error') entry.reject(errorFrom(reply));
      else entry.resolve(new Map(reply.outputs));
    });
    const fail = (error: Error): void => {
      this.#failure = error;
      for (const entry of this.#pending.values()) entry.reject(error);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`The inference thread exited (code ${code})`)));
  }

  /** Starts a worker and creates the session there; rejects with the session's own error. */
  static async create(model: Uint8Array, options: SessionOptions = {}): Promise<ThreadedRuntimeSession> {
    const url = workerUrl();
    if (url === undefined) throw new Error('runtime-thread-worker.js is missing: build @strata/core, or use RuntimeSession');
    const worker = new Worker(url);
    // The model bytes move to the worker (no copy) when they own their buffer.
    const owned = model.byteOffset === 0 && model.byteLength === model.buffer.byteLength ? model : model.slice();
    const created = await new Promise<Extract<RuntimeThreadReply, { kind: 'created' }>>((resolve, reject) => {
      const onMessage = (reply: RuntimeThreadReply): void => {
        worker.off('error', onError);
        worker.off('message', onMessage);
        if (reply.kind === 'created') resolve(reply);
        else if (reply.kind === 'error') reject(errorFrom(reply));
        else reject(new Error(`Unexpected reply "${reply.kind}" from the inference thread`));
      };
      const onError = (error: Error): void => {
        worker.off('message', onMessage);
        reject(error);
      };
      worker.on('message', onMessage);
      worker.once('error', onError);
      worker.postMessage({ kind: 'create', model: owned, options } satisfies RuntimeThreadRequest, [owned.buffer as ArrayBuffer]);
    }).catch(async (error: unknown) => {
      await worker.terminate();
      throw error;
    });
    return new ThreadedRuntimeSession(worker, created.executionProvider, created.inputNames, created.outputNames);
  }

  /**
   * Runs the model on the worker. The inputs are copied (the caller keeps its arrays); the
   * outputs are moved back without a copy.
   */
  run(feeds: Readonly<Record<string, FloatTensor>>, outputs?: readonly string[]): Promise<Map<string, FloatTensor>> {
    if (this.#disposed) return Promise.reject(new Error('This session has been disposed'));
    if (this.#failure) return Promise.reject(this.#failure);
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      const plain: Record<string, FloatTensor> = {};
      for (const [name, tensor] of Object.entries(feeds)) plain[name] = { data: tensor.data, dims: [...tensor.dims] };
      this.#worker.postMessage({ kind: 'run', id, feeds: plain, ...(outputs ? { outputs: [...outputs] } : {}) } satisfies RuntimeThreadRequest);
    });
  }

  /** Frees the session and stops the worker. Safe to call twice. */
  dispose(): Promise<void> {
    this.#disposed ??= (async () => {
      if (this.#failure === undefined) {
        await new Promise<void>((resolve) => {
          const onMessage = (reply: RuntimeThreadReply): void => {
            if (reply.kind !== 'disposed') return;
            this.#worker.off('message', onMessage);
            resolve();
          };
          this.#worker.on('message', onMessage);
          this.#worker.once('exit', () => resolve());
          this.#worker.postMessage({ kind: 'dispose' } satisfies RuntimeThreadRequest);
        });
      }
      await this.#worker.terminate();
    })();
    return this.#disposed;
  }
}
