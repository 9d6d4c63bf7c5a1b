/**
 * Runs kernel tasks on the calling thread alone or on it plus a pool of worker threads. Workers
 * and the calling thread take chunks from one shared atomic counter, so faster threads take
 * more and the caller is never idle; since chunks do not depend on who runs them, the results
 * are the same either way.
 *
 * Worker code is the compiled `worker.js` next to this module. Under a TypeScript-source runner
 * (vitest runs src/*.ts through Vite) there is no such file and `createExecutor` falls back to
 * the calling thread; tests exercise the workers by compiling this folder first.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { chunkCount, runChunk } from './kernels.js';
import type { KernelTask } from './kernels.js';

export interface Executor {
  /** Threads working on a task, the calling one included. */
  readonly threads: number;
  /** Runs every chunk of the task; resolves when all are done (rejects on abort or worker error). */
  run(task: KernelTask, signal?: AbortSignal): Promise<void>;
  /**
   * Starts the task on the workers only, so the calling thread can do other work; `finish`
   * then joins in on the remaining chunks and waits for the rest. (Inline: all runs in finish.)
   */
  begin(task: KernelTask): StartedTask;
  close(): Promise<void>;
}

export interface StartedTask {
  finish(signal?: AbortSignal): Promise<void>;
}

/** Message a worker receives for each task. */
export interface WorkerRequest {
  task: KernelTask;
  /** [0]: next chunk to take. */
  counter: Int32Array;
}

export type WorkerReply = { ok: true } | { ok: false; error: string };

class InlineExecutor implements Executor {
  readonly threads = 1;
  async run(task: KernelTask, signal?: AbortSignal): Promise<void> {
    const chunks = chunkCount(task);
    let lastYield = performance.now();
    for (let c = 0; c < chunks; c++) {
      runChunk(task, c);
      // Long tasks (a neighbour search on one thread) still let abort events and timers run.
      if (performance.now() - lastYield > 50) {
        await new Promise<void>((resolve) => setImmediate(resolve));
        signal?.throwIfAborted();
        lastYield = performance.now();
      }
    }
  }
  begin(task: KernelTask): StartedTask {
    return { finish: (signal) => this.run(task, signal) };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

interface PendingReply {
  resolve: () => void;
  reject: (error: Error) => void;
}

class WorkerExecutor implements Executor {
  readonly threads: number;
  private readonly counter = new Int32Array(new SharedArrayBuffer(4));
  private readonly pending = new Map<Worker, PendingReply>();
  private failure: Error | undefined;

  constructor(private readonly workers: Worker[]) {
    this.threads = workers.length + 1;
    for (const worker of workers) {
      worker.on('message', (reply: WorkerReply) => {
        const waiting = this.pending.get(worker);
        this.pending.delete(worker);
        if (reply.ok) waiting?.resolve();
        else waiting?.reject(new Error(`t-SNE worker failed: ${reply.error}`));
      });
      const fail = (error: Error): void => {
        this.failure ??= error;
        this.pending.get(worker)?.reject(error);
        this.pending.delete(worker);
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`t-SNE worker exited with code ${code}`)));
    }
  }

  run(task: KernelTask, signal?: AbortSignal): Promise<void> {
    return this.begin(task).finish(signal);
  }

  begin(task: KernelTask): StartedTask {
    if (this.failure !== undefined) {
      const failure = this.failure;
      return { finish: () => Promise.reject(failure) };
    }
    const chunks = chunkCount(task);
    Atomics.store(this.counter, 0, 0);
    const replies = this.workers.map(
      (worker) =>
        new Promise<void>((resolve, reject) => {
          this.pending.set(worker, { resolve, reject });
        }),
    );
    const request: WorkerRequest = { task, counter: this.counter };
    for (const worker of this.workers) worker.postMessage(request);
    const all = Promise.all(replies).then(() => undefined);
    // Settled later by finish(); never an unhandled rejection in between.
    all.catch(() => undefined);
    return {
      finish: async (signal?: AbortSignal): Promise<void> => {
        for (;;) {
          const chunk = Atomics.add(this.counter, 0, 1);
          if (chunk >= chunks) break;
          runChunk(task, chunk);
        }
        if (signal === undefined) return all;
        // A cancelled run must not wait for the workers' chunks: close() terminates them.
        let onAbort: (() => void) | undefined;
        const aborted = new Promise<void>((_, reject) => {
          onAbort = () => reject(signal.reason);
          if (signal.aborted) onAbort();
          else signal.addEventListener('abort', onAbort, { once: true });
        });
        aborted.catch(() => undefined);
        try {
          await Promise.race([all, aborted]);
        } finally {
          if (onAbort !== undefined) signal.removeEventListener('abort', onAbort);
        }
      },
    };
  }

  async close(): Promise<void> {
    const workers = this.workers.splice(0);
    for (const worker of workers) worker.removeAllListeners('exit');
    await Promise.all(workers.map((worker) => worker.terminate()));
  }
}

/** The compiled worker next to this module, if there is one. */
export function workerUrl(): URL | undefined {
  const url = new URL('./worker.js', import.meta.url);
  return url.protocol === 'file:' && existsSync(fileURLToPath(url)) ? url : undefined;
}

export function defaultThreads(): number {
  return availableParallelism();
}

/**
 * `threads` threads in all (the caller plus threads - 1 workers), or the caller alone when
 * threads <= 1 or when the worker code is not available (running from TypeScript sources).
 */
export function createExecutor(threads: number): Executor {
  const url = threads > 1 ? workerUrl() : undefined;
  if (url === undefined) return new InlineExecutor();
  const workers: Worker[] = [];
  for (let w = 0; w < threads - 1; w++) workers.push(new Worker(url));
  return new WorkerExecutor(workers);
}
