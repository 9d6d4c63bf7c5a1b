/**
 * `strata serve`: the API, its workers and — without DATABASE_URL — the embedded database,
 * each in its own process:
 *
 *   strata serve ──┬─ embedded database (PGlite + wire server on a unix socket)   [no DATABASE_URL]
 *                  ├─ API (this process: HTTP, GraphQL, files)      ─┐
 *                  └─ N workers (pg-boss; extraction, maps, ...)    ─┴─ postgres:// to the above or the server
 *
 * Workers that exit unexpectedly are started again (at most 5 times a minute).
 */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { startEmbeddedDatabase, type EmbeddedDatabase } from './db/embedded.js';
import { childEnvironment, loadEnv, type Env } from './env.js';
import { startApiServer, type ApiServer } from './http/server.js';

export interface ServeOptions {
  readonly port?: number;
  readonly host?: string;
  readonly dataDir?: string;
  /** Worker processes to run beside the API. Default STRATA_WORKERS (1). */
  readonly workers?: number;
  readonly env?: Env;
  readonly log?: (line: string) => void;
}

export interface ServeHandle {
  readonly api: ApiServer;
  /** The database everything connects to (the embedded one's socket URL, or DATABASE_URL). */
  readonly databaseUrl: string;
  readonly embedded: boolean;
  readonly dataDir: string;
  /** Process ids of the workers running now. */
  workerPids(): number[];
  close(): Promise<void>;
}

const WORKER_ENTRY = fileURLToPath(new URL('./jobs/worker-process.js', import.meta.url));

class WorkerPool {
  readonly #children = new Set<ChildProcess>();
  readonly #restarts: number[] = [];
  #stopping = false;

  constructor(
    readonly count: number,
    private readonly env: NodeJS.ProcessEnv,
    private readonly log: (line: string) => void,
  ) {}

  start(): void {
    for (let i = 0; i < this.count; i++) this.#spawn();
  }

  pids(): number[] {
    return [...this.#children].map((child) => child.pid).filter((pid): pid is number => pid !== undefined);
  }

  #spawn(): void {
    const child = fork(WORKER_ENTRY, [], { env: this.env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    this.#children.add(child);
    child.once('exit', (code, signal) => {
      this.#children.delete(child);
      if (this.#stopping) return;
      const now = Date.now();
      this.#restarts.push(now);
      while ((this.#restarts[0] ?? now) < now - 60_000) this.#restarts.shift();
      if (this.#restarts.length > 5) {
        this.log(`worker ${child.pid} exited (${signal ?? code}); it restarted more than 5 times in a minute, so it stays down`);
        return;
      }
      this.log(`worker ${child.pid} exited (${signal ?? code}); starting another`);
      setTimeout(() => {
        if (!this.#stopping) this.#spawn();
      }, 1000).unref();
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    await Promise.all(
      [...this.#children].map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 30_000).unref();
          }),
      ),
    );
  }
}

export async function serve(options: ServeOptions = {}): Promise<ServeHandle> {
  const env = options.env ?? loadEnv();
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const dataDir = options.dataDir ?? env.dataDir;
  let embedded: EmbeddedDatabase | undefined;
  if (!env.DATABASE_URL) embedded = await startEmbeddedDatabase(dataDir);
  const databaseUrl = env.DATABASE_URL ?? (embedded as EmbeddedDatabase).url;
  let api: ApiServer;
  try {
    api = await startApiServer({
      env,
      databaseUrl,
      dataDir,
      ...(options.port !== undefined ? { port: options.port } : {}),
      ...(options.host !== undefined ? { host: options.host } : {}),
      log,
    });
  } catch (error) {
    await embedded?.stop();
    throw error;
  }
  const pool = new WorkerPool(options.workers ?? env.STRATA_WORKERS, childEnvironment({ DATABASE_URL: databaseUrl, STRATA_DATA_DIR: dataDir }), log);
  pool.start();
  void embedded?.exited.then((code) => {
    if (!closing) log(`the embedded database process exited (code ${code}); the API cannot reach its data until strata serve is restarted`);
  });
  let closing = false;
  return {
    api,
    databaseUrl,
    embedded: embedded !== undefined,
    dataDir,
    workerPids: () => pool.pids(),
    async close() {
      if (closing) return;
      closing = true;
      await pool.stop();
      await api.close();
      await embedded?.stop();
    },
  };
}
