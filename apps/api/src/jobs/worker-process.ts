/**
 * Entry of a worker child process that `strata serve` starts (the same as `strata worker`):
 * its database comes in DATABASE_URL and its data folder in STRATA_DATA_DIR.
 */
import { loadEnv } from '../env.js';
import { databaseUrlFor } from '../db/connect.js';
import { startWorker } from './worker.js';

const env = loadEnv();
const log = (line: string) => process.stderr.write(`worker ${process.pid}: ${line}\n`);
try {
  const worker = await startWorker({
    databaseUrl: databaseUrlFor(env, env.dataDir),
    dataDir: env.dataDir,
    retryLimit: env.STRATA_JOB_RETRY_LIMIT,
    pollSeconds: env.STRATA_WORKER_POLL_SECONDS,
    heartbeatSeconds: env.STRATA_WORKER_HEARTBEAT_SECONDS,
    staleSeconds: env.STRATA_WORKER_STALE_SECONDS,
    ...(env.STRATA_WORKER_THREADS ? { threads: env.STRATA_WORKER_THREADS } : {}),
    executionProvider: env.STRATA_WORKER_DEVICE,
    log,
  });
  process.send?.({ type: 'ready', id: worker.id });
  const stop = () => {
    void worker.stop().then(() => process.exit(0), () => process.exit(1));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
  process.once('disconnect', stop);
} catch (error) {
  log(`cannot start: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
