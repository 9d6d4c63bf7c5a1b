/**
 * Updates to the GPU scene are queued, never run on top of each other: any number of changes in
 * one frame become one commit on the next animation frame, and a commit that is running when
 * another is asked for is followed by exactly one more.
 */
export class FrameQueue {
  readonly #commit: () => void;
  #frame: number | null = null;
  #running = false;
  #again = false;
  #disposed = false;

  constructor(commit: () => void) {
    this.#commit = commit;
  }

  schedule(): void {
    if (this.#disposed) return;
    if (this.#running) {
      this.#again = true;
      return;
    }
    if (this.#frame !== null) return;
    this.#frame = requestAnimationFrame(() => {
      this.#frame = null;
      this.flush();
    });
  }

  /** Commits now (and cancels the scheduled frame). */
  flush(): void {
    if (this.#frame !== null) {
      cancelAnimationFrame(this.#frame);
      this.#frame = null;
    }
    if (this.#disposed || this.#running) return;
    this.#running = true;
    try {
      this.#commit();
    } finally {
      this.#running = false;
    }
    if (this.#again) {
      this.#again = false;
      this.schedule();
    }
  }

  dispose(): void {
    this.#disposed = true;
    if (this.#frame !== null) cancelAnimationFrame(this.#frame);
    this.#frame = null;
  }
}
