/**
 * Runs async tasks one after another. PGlite is one connection in this process: interleaving
 * statements of two callers would mix their transactions, so every store call on it queues here.
 */
export class SerialQueue {
  #tail: Promise<unknown> = Promise.resolve();

  run<T>(task: () => Promise<T>): Promise<T> {
    const result = this.#tail.then(task, task);
    // The queue goes on whether or not this task failed; the caller sees its own error.
    this.#tail = result.catch(() => undefined);
    return result;
  }
}
