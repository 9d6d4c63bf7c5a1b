/**
 * Starts the embedded database in a child process (./embedded-process.ts) and waits until it
 * accepts connections; the first start on a new data folder initialises the cluster (seconds).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export interface EmbeddedDatabase {
  readonly url: string;
  readonly pid: number;
  /** Stops the process (it closes PGlite cleanly) and waits for it. */
  stop(): Promise<void>;
  /** Resolves when the process exits for any reason. */
  readonly exited: Promise<number | null>;
}

const ENTRY = fileURLToPath(new URL('./embedded-process.js', import.meta.url));

export async function startEmbeddedDatabase(dataDir: string, options: { timeoutMs?: number } = {}): Promise<EmbeddedDatabase> {
  const child: ChildProcess = fork(ENTRY, [dataDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], serialization: 'json' });
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the embedded database did not start within ${(options.timeoutMs ?? 180_000) / 1000} s`));
    }, options.timeoutMs ?? 180_000);
    child.on('message', (message: { type?: string; url?: string; message?: string }) => {
      if (message.type === 'ready' && message.url) {
        clearTimeout(timer);
        resolve(message.url);
      } else if (message.type === 'error') {
        clearTimeout(timer);
        reject(new Error(`the embedded database did not start: ${message.message ?? 'unknown error'}`));
      }
    });
    void exited.then((code) => {
      clearTimeout(timer);
      reject(new Error(`the embedded database process exited (code ${code}) before it was ready`));
    });
  });
  return {
    url,
    pid: child.pid ?? -1,
    exited,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const timer = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
