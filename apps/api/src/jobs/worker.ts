/**
 * A worker process: takes Strata's jobs from the pg-boss queue one at a time and runs them
 * (@strata/core/jobs), never on the API's request path. Any number of workers may share one
 * database, on one machine or several.
 *
 * Liveness: while a job runs, its worker writes a heartbeat into the job row every few seconds
 * (STRATA_WORKER_HEARTBEAT_SECONDS). Every worker also looks for running jobs whose heartbeat
 * is older than STRATA_WORKER_STALE_SECONDS — their worker was killed or cut off — takes them
 * back (atomically, so only one worker does) and fails their pg-boss job, which pg-boss then
 * retries (up to STRATA_JOB_RETRY_LIMIT). The retry continues where the last committed work
 * stopped: an extraction is a resumable ingest that commits every batch. If the "dead" worker
 * was only slow, its next heartbeat finds the job gone and it stops.
 */
import { hostname } from 'node:os';
import { randomBytes } from 'node:crypto';
import { setTimeout as delay } from 'node:timers/promises';
import type PgBoss from 'pg-boss';
import { JOB_QUEUE, checkExecutionProvider, isPermanentJobError, runJob, type ExecutionProvider, type JobMessage } from '@strata/core/jobs';
import {
  claimJob,
  ensureApiSchema,
  failJob,
  finishJob,
  heartbeatJob,
  openStore,
  reclaimStaleJobs,
  reportJobProgress,
  type JobItemError,
  type JobProgress,
  type JobRecord,
  type Store,
} from '@strata/core/store';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { startBoss } from './queue.js';

export interface WorkerOptions {
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly retryLimit: number;
  readonly pollSeconds: number;
  readonly heartbeatSeconds: number;
  readonly staleSeconds: number;
  readonly threads?: number;
  /** Where extractions run the model. Default 'cpu'. */
  readonly executionProvider?: ExecutionProvider;
  readonly log?: (line: string) => void;
}

export interface WorkerHandle {
  readonly id: string;
  /** Stops taking jobs; a running job is interrupted and left for another worker to continue. */
  stop(): Promise<void>;
}

class Cancelled extends Error {
  override readonly name = 'Cancelled';
}
class LostLease extends Error {
  override readonly name = 'LostLease';
}
class ShuttingDown extends Error {
  override readonly name = 'ShuttingDown';
}

/** An error for the log: one line for a database outage (Prisma's own message takes five). */
function explain(error: unknown): string {
  if (isDatabaseUnavailable(error)) return 'the database cannot be reached';
  return error instanceof Error ? error.message : String(error);
}

/** Writes progress at most once a second (errors and phase changes at once), always the last one. */
class ProgressWriter {
  #pending: { -readonly [K in keyof JobProgress]: JobProgress[K] } = {};
  #errors: JobItemError[] = [];
  #timer: NodeJS.Timeout | undefined;
  #last = 0;
  #chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: Store,
    private readonly job: JobRecord,
    private readonly worker: string,
    private readonly log: (line: string) => void,
  ) {}

  report(progress: JobProgress): void {
    const phaseChanged = progress.phase !== undefined && progress.phase !== this.#pending.phase;
    Object.assign(this.#pending, progress);
    if (progress.newErrors) this.#errors.push(...progress.newErrors);
    const due = Date.now() - this.#last >= 1000;
    if (due || phaseChanged || (progress.newErrors?.length ?? 0) > 0) void this.flush();
    else this.#timer ??= setTimeout(() => void this.flush(), 1000);
  }

  flush(): Promise<void> {
    if (this.#timer) clearTimeout(this.#timer);
    this.#timer = undefined;
    const progress: JobProgress = { ...this.#pending, newErrors: this.#errors };
    this.#errors = [];
    this.#last = Date.now();
    this.#chain = this.#chain
      .then(() => reportJobProgress(this.store, this.job.id, this.worker, progress))
      .catch((error: unknown) => this.log(`job ${this.job.id}: progress not saved: ${explain(error)}`));
    return this.#chain;
  }
}

export async function startWorker(options: WorkerOptions): Promise<WorkerHandle> {
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const id = `${hostname()}:${process.pid}:${randomBytes(2).toString('hex')}`;
  const executionProvider = options.executionProvider ?? 'cpu';
  // Before taking any job: a GPU worker without CUDA stops here, with the runtime's explanation.
  if (executionProvider !== 'cpu') {
    await checkExecutionProvider(executionProvider).catch((error: unknown) => {
      throw new Error(`this worker is set to run models on ${executionProvider} (STRATA_WORKER_DEVICE, --device), which does not work here: ${error instanceof Error ? error.message : String(error)}`, { cause: error });
    });
  }
  const store = await openStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  await ensureApiSchema(store);
  const boss: PgBoss = await startBoss({ databaseUrl: options.databaseUrl, retryLimit: options.retryLimit, supervise: true, connections: 3, log });
  let stopping = false;
  let current: AbortController | undefined;
  const stopped = new AbortController();
  const pause = (ms: number) => delay(ms, undefined, { signal: stopped.signal }).catch(() => undefined);

  /**
   * A bookkeeping write that must not be lost to a database outage (how a job ended, pg-boss's
   * record of it): tried again with back-off while the database cannot be reached, until the
   * worker stops. Other errors are thrown.
   */
  const whenDatabaseAnswers = async <T>(what: string, write: () => Promise<T>): Promise<T> => {
    for (let wait = 500; ; wait = Math.min(wait * 2, 8000)) {
      try {
        return await write();
      } catch (error) {
        if (stopping || !isDatabaseUnavailable(error)) throw error;
        log(`${what}: the database cannot be reached; trying again in ${wait / 1000} s`);
        await pause(wait);
      }
    }
  };

  /** Runs one delivered job; 'complete' or 'none' (the job is another worker's now) for pg-boss, or throws for a retry. */
  const handle = async (message: PgBoss.JobWithMetadata<JobMessage>): Promise<'complete' | 'none'> => {
    const jobId = Number(message.data?.jobId);
    if (!Number.isInteger(jobId)) {
      log(`queue message ${message.id} has no job id; dropped`);
      return 'complete';
    }
    const job = await claimJob(store, jobId, id);
    if (!job) return 'complete'; // cancelled or finished meanwhile
    log(`job ${job.id} (${job.kind} ${job.key}) started, attempt ${job.attempts}`);
    const abort = new AbortController();
    current = abort;
    const progress = new ProgressWriter(store, job, id, log);
    let beating = false;
    const heartbeat = setInterval(() => {
      if (beating) return;
      beating = true;
      heartbeatJob(store, job.id, id)
        .then((beat) => {
          if (!beat.owned) abort.abort(new LostLease(`job ${job.id} was taken over by another worker`));
          else if (beat.cancelRequested) abort.abort(new Cancelled(`job ${job.id} was cancelled`));
        })
        .catch((error: unknown) => log(`job ${job.id}: heartbeat failed: ${explain(error)}`))
        .finally(() => {
          beating = false;
        });
    }, options.heartbeatSeconds * 1000);
    const started = performance.now();
    try {
      const result = await runJob({
        store,
        job,
        signal: abort.signal,
        report: (p) => progress.report(p),
        staleAfterMs: options.staleSeconds * 1000,
        ...(options.threads ? { threads: options.threads } : {}),
        executionProvider,
      });
      await progress.flush();
      // A job another worker took over meanwhile is left to it (and to pg-boss's record of it).
      if (!(await whenDatabaseAnswers(`job ${job.id}`, () => finishJob(store, job.id, id, { status: 'done', result, phase: 'done' })))) return 'none';
      log(`job ${job.id} done in ${((performance.now() - started) / 1000).toFixed(1)} s`);
      return 'complete';
    } catch (caught) {
      await progress.flush();
      const reason = abort.signal.aborted ? (abort.signal.reason as unknown) : caught;
      const text = reason instanceof Error ? reason.message : String(reason);
      if (reason instanceof Cancelled) {
        await whenDatabaseAnswers(`job ${job.id}`, () => finishJob(store, job.id, id, { status: 'cancelled', phase: 'cancelled' }));
        log(`job ${job.id} cancelled`);
        return 'complete';
      }
      if (reason instanceof LostLease) {
        log(`job ${job.id}: ${text}; stopped here`);
        return 'none';
      }
      // A lost database is never the job's fault: the retry continues once it is back.
      if (!(reason instanceof ShuttingDown) && !isDatabaseUnavailable(caught) && isPermanentJobError(caught)) {
        await whenDatabaseAnswers(`job ${job.id}`, () => finishJob(store, job.id, id, { status: 'failed', error: text }));
        log(`job ${job.id} failed: ${text}`);
        return 'complete';
      }
      const retriesLeft = message.retryCount < message.retryLimit;
      const owned = await whenDatabaseAnswers(`job ${job.id}`, () =>
        finishJob(store, job.id, id, retriesLeft ? { status: 'queued', error: text, phase: 'waiting to retry' } : { status: 'failed', error: text }),
      );
      if (!owned) {
        log(`job ${job.id}: taken over by another worker while this one could not reach the database; stopped here`);
        return 'none';
      }
      log(`job ${job.id} ${retriesLeft ? 'will be retried' : 'failed for good'}: ${text}`);
      // pg-boss records the failure and, with retries left, delivers the job again.
      throw caught instanceof Error ? caught : new Error(text);
    } finally {
      clearInterval(heartbeat);
      if (current === abort) current = undefined;
    }
  };

  // Our own loop rather than boss.work(): pg-boss 10's work() neither awaits nor catches the
  // complete() or fail() that follows each job, so a database outage at that moment was an
  // unhandled rejection that ended the worker process. Here those writes wait for the database.
  const loop = (async () => {
    while (!stopping) {
      try {
        // fetch() answers [] when the database cannot be reached.
        const [message] = await boss.fetch<JobMessage>(JOB_QUEUE, { batchSize: 1, includeMetadata: true });
        if (!message) {
          await pause(options.pollSeconds * 1000);
          continue;
        }
        let outcome: 'complete' | 'none' | { error: unknown };
        try {
          outcome = await handle(message);
        } catch (error) {
          outcome = { error };
        }
        if (outcome === 'none') continue;
        const failure = outcome === 'complete' ? null : { message: outcome.error instanceof Error ? outcome.error.message : String(outcome.error) };
        await whenDatabaseAnswers(`queue: job ${message.id}`, () => (failure ? boss.fail(JOB_QUEUE, message.id, failure) : boss.complete(JOB_QUEUE, message.id)));
      } catch (error) {
        log(`queue: ${explain(error)}`);
        await pause(options.pollSeconds * 1000);
      }
    }
  })();

  // Takes back the jobs of workers that stopped sending heartbeats. Heartbeats missed while this
  // worker could not reach the database either prove nothing (every job looks stale after an
  // outage): it judges them only once it has reached the database for a whole stale period.
  let supervising = false;
  // At start it judges at once, as before (its owner may have died with the last worker).
  let reachableSince: number | null = Date.now() - options.staleSeconds * 1000;
  const supervise = async (): Promise<void> => {
    if (supervising || stopping) return;
    supervising = true;
    try {
      if (reachableSince === null) {
        await store.withPrisma((prisma) => prisma.$queryRaw`SELECT 1`);
        reachableSince = Date.now();
        log('supervisor: the database answers again');
      }
      if (Date.now() - reachableSince < options.staleSeconds * 1000) return;
      for (const stale of await reclaimStaleJobs(store, options.staleSeconds)) {
        log(`job ${stale.id}: worker ${stale.worker} stopped sending heartbeats; handing it to the queue again`);
        if (!stale.bossId) continue;
        await boss.fail(stale.queue, stale.bossId, { message: `worker ${stale.worker} lost` });
        const after = await boss.getJobById(stale.queue, stale.bossId);
        if (after?.state === 'failed') await failJob(store, stale.id, `worker ${stale.worker} lost, and no retries are left`);
      }
    } catch (error) {
      if (isDatabaseUnavailable(error)) reachableSince = null;
      log(`supervisor: ${explain(error)}`);
    } finally {
      supervising = false;
    }
  };
  const supervisor = setInterval(() => void supervise(), Math.max(1000, (options.staleSeconds * 1000) / 3));
  supervisor.unref();
  void supervise();
  log(`worker ${id} ready (models on ${executionProvider})`);

  return {
    id,
    async stop() {
      if (stopping) return;
      stopping = true;
      clearInterval(supervisor);
      current?.abort(new ShuttingDown(`worker ${id} is stopping`));
      stopped.abort();
      // The running job hands itself back to the queue first.
      await loop;
      await boss.stop({ graceful: true, wait: true, close: true, timeout: 30_000 }).catch(() => undefined);
      await store.close();
    },
  };
}
