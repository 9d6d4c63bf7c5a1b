/**
 * Runs kernel tasks on the calling thread alone or on it plus a pool of worker threads. Workers
 * and the calling thread take chunks from one shared atomic counter, so faster threads take
 * more and the caller is never idle; since chunks do not depend on who runs them, the results
 * are the same either way.
 *
 * A run is announced through shared memory, not a message: the calling thread bumps a
 * generation counter and the workers, spinning on it for a moment after each run (then asleep
 * in Atomics.wait), start within microseconds. A Barnes-Hut step is three runs of a
 * millisecond or less (attraction, repulsion, update), and a message round trip between
 * threads costs 50-60 us here against a few for this hand-off (docs/tsne.md). Task objects still travel as messages, once: `prepare` keeps a task
 * on the workers for repeated runs (it reads what changes between runs from its shared
 * arrays); `run` and `begin` post the task and drop it after the run.
 *
 * Worker code is the compiled `worker.js` next to this module. Under a TypeScript-source runner
 * (vitest runs src/*.ts through Vite) there is no such file and `createExecutor` falls back to
 * the calling thread; tests exercise the workers by compiling this folder first.
 */
import { existsSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { MessageChannel, receiveMessageOnPort, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
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
  /**
   * Keeps the task on the workers for repeated runs. Whatever changes between runs must be
   * in the task's shared arrays (written before each run starts), not in its plain fields.
   */
  prepare(task: KernelTask): PreparedTask;
  close(): Promise<void>;
}

export interface StartedTask {
  finish(signal?: AbortSignal): Promise<void>;
}

export interface PreparedTask {
  run(signal?: AbortSignal): Promise<void>;
  begin(): StartedTask;
  /** Lets the workers drop the task (and the arrays it holds). */
  release(): void;
}

/** Slots of the shared control array. */
export const CONTROL_GENERATION = 0;
export const CONTROL_TASK = 1;
/** Next chunk to take. */
export const CONTROL_COUNTER = 2;
/** Messages posted to each worker so far (a worker reads its port only when it is behind). */
export const CONTROL_MESSAGES = 3;
/**
 * Workers asleep in Atomics.wait, and whether the calling thread waits for them: a notify is
 * only sent to a thread that may sleep (it costs microseconds even when nobody waits).
 */
export const CONTROL_SLEEPING_WORKERS = 4;
export const CONTROL_CALLER_WAITING = 5;
/** Worker w writes the generation it finished at CONTROL_DONE + w (negated when it failed). */
export const CONTROL_DONE = 6;
/** CONTROL_TASK value that ends the workers' loops. */
export const TASK_EXIT = -1;

/** What the workers are told at start (workerData). */
export interface WorkerSetup {
  control: Int32Array;
  index: number;
  port: MessagePort;
}

/** Messages on a worker's port: a task to keep under an id, or an id to drop. */
export type WorkerMessage = { id: number; task: KernelTask } | { release: number };

/** A failed chunk's error, sent back on the port. */
export interface WorkerFailure {
  error: string;
}

/**
 * How long the calling thread spins for the workers' last chunks before yielding to the event
 * loop (Atomics.waitAsync): chunks take tens to hundreds of microseconds.
 */
const FINISH_SPIN_MS = 2;

/** Atomics.waitAsync (Node 16+; this package's TypeScript lib predates it). */
const waitAsync = (Atomics as unknown as {
  waitAsync(array: Int32Array, index: number, value: number, timeoutMs: number): { async: boolean; value: Promise<string> | string };
}).waitAsync;

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
  prepare(task: KernelTask): PreparedTask {
    return { run: (signal) => this.run(task, signal), begin: () => this.begin(task), release: () => undefined };
  }
  close(): Promise<void> {
    return Promise.resolve();
  }
}

class WorkerExecutor implements Executor {
  readonly threads: number;
  private readonly control: Int32Array;
  private readonly ports: MessagePort[] = [];
  private nextId = 1;
  private failure: Error | undefined;
  private running = false;
  private readonly workers: Worker[] = [];

  constructor(url: URL, workerCount: number) {
    this.threads = workerCount + 1;
    this.control = new Int32Array(new SharedArrayBuffer(4 * (CONTROL_DONE + workerCount)));
    for (let index = 0; index < workerCount; index++) {
      const { port1, port2 } = new MessageChannel();
      const setup: WorkerSetup = { control: this.control, index, port: port2 };
      const worker = new Worker(url, { workerData: setup, transferList: [port2] });
      const fail = (error: Error): void => {
        this.failure ??= error;
        // Wake a caller waiting for this worker.
        Atomics.store(this.control, CONTROL_DONE + index, -Atomics.load(this.control, CONTROL_GENERATION));
        Atomics.notify(this.control, CONTROL_DONE + index);
      };
      worker.on('error', fail);
      worker.on('exit', (code) => fail(new Error(`t-SNE worker exited with code ${code}`)));
      this.workers.push(worker);
      this.ports.push(port1);
    }
  }

  run(task: KernelTask, signal?: AbortSignal): Promise<void> {
    return this.begin(task).finish(signal);
  }

  begin(task: KernelTask): StartedTask {
    const prepared = this.prepare(task);
    const started = prepared.begin();
    return {
      finish: async (signal) => {
        try {
          await started.finish(signal);
        } finally {
          prepared.release();
        }
      },
    };
  }

  prepare(task: KernelTask): PreparedTask {
    const id = this.nextId++;
    this.post({ id, task });
    let released = false;
    return {
      run: (signal) => this.start(id, task).finish(signal),
      begin: () => this.start(id, task),
      release: () => {
        if (released) return;
        released = true;
        this.post({ release: id });
      },
    };
  }

  private post(message: WorkerMessage): void {
    for (const port of this.ports) port.postMessage(message);
    Atomics.add(this.control, CONTROL_MESSAGES, 1);
  }

  private start(id: number, task: KernelTask): StartedTask {
    if (this.failure !== undefined) {
      const failure = this.failure;
      return { finish: () => Promise.reject(failure) };
    }
    if (this.running) throw new Error('t-SNE executor: a task is already running');
    this.running = true;
    const control = this.control;
    const chunks = chunkCount(task);
    Atomics.store(control, CONTROL_COUNTER, 0);
    Atomics.store(control, CONTROL_TASK, id);
    const generation = Atomics.add(control, CONTROL_GENERATION, 1) + 1;
    if (Atomics.load(control, CONTROL_SLEEPING_WORKERS) > 0) Atomics.notify(control, CONTROL_GENERATION);
    return {
      finish: async (signal?: AbortSignal): Promise<void> => {
        try {
          for (;;) {
            const chunk = Atomics.add(control, CONTROL_COUNTER, 1);
            if (chunk >= chunks) break;
            try {
              runChunk(task, chunk);
            } catch (error) {
              // The workers may still be in this run: no further run may start.
              this.failure ??= error instanceof Error ? error : new Error(String(error));
              throw error;
            }
          }
          await this.waitForWorkers(generation, signal);
        } finally {
          this.running = false;
        }
      },
    };
  }

  /** Resolves when every worker has finished `generation`; rejects with a worker's error. */
  private async waitForWorkers(generation: number, signal: AbortSignal | undefined): Promise<void> {
    const control = this.control;
    const spinUntil = performance.now() + FINISH_SPIN_MS;
    for (let w = 0; w < this.workers.length; w++) {
      const slot = CONTROL_DONE + w;
      for (;;) {
        const done = Atomics.load(control, slot);
        if (done === generation) break;
        if (done === -generation || this.failure !== undefined) throw this.takeFailure(w);
        if (performance.now() < spinUntil) continue;
        if (signal?.aborted) {
          // The workers may still be in this run's chunks: no further run may start.
          this.failure ??= new Error('t-SNE executor: a run was cancelled');
          signal.throwIfAborted();
        }
        // A cancelled run does not wait for the workers' chunks: close() terminates them.
        Atomics.store(control, CONTROL_CALLER_WAITING, 1);
        const waited = waitAsync(control, slot, done, 50);
        if (waited.async) await waited.value;
        Atomics.store(control, CONTROL_CALLER_WAITING, 0);
      }
    }
  }

  private takeFailure(worker: number): Error {
    const port = this.ports[worker] as MessagePort;
    for (let received = receiveMessageOnPort(port); received !== undefined; received = receiveMessageOnPort(port)) {
      const failure = received.message as WorkerFailure;
      this.failure ??= new Error(`t-SNE worker failed: ${failure.error}`);
    }
    return this.failure ?? new Error('t-SNE worker failed');
  }

  async close(): Promise<void> {
    Atomics.store(this.control, CONTROL_TASK, TASK_EXIT);
    Atomics.add(this.control, CONTROL_GENERATION, 1);
    Atomics.notify(this.control, CONTROL_GENERATION);
    const workers = this.workers.splice(0);
    for (const worker of workers) worker.removeAllListeners('exit');
    await Promise.all(workers.map((worker) => worker.terminate()));
    for (const port of this.ports.splice(0)) port.close();
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
  return new WorkerExecutor(url, threads - 1);
}
