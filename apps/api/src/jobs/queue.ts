/**
 * The job queue: pg-boss 10 on the same database as the store (its own schema `pgboss`). The
 * API only sends; workers (./worker.ts) take jobs one at a time. Each job is a row in
 * strata_api.job (what users poll) plus a pg-boss job carrying its id (delivery and retries).
 *
 * pg-boss 10, not 11+ (which needs Node 22) or graphile-worker (same). pg-boss 10 has no
 * heartbeat of its own: a job is only failed by its expiry (`expireIn`), which must be longer
 * than the longest extraction. So workers keep their own heartbeat in the job row and take
 * back the jobs of workers that stopped beating (./worker.ts); pg-boss then retries them.
 */
import { randomUUID } from 'node:crypto';
import PgBoss from 'pg-boss';
import { JOB_QUEUE, jobKey, type JobParams } from '@strata/core/jobs';
import { createJob, failJob, type JobRecord, type Store } from '@strata/core/store';

export interface QueueOptions {
  readonly databaseUrl: string;
  /** Retries after a failure or a lost worker. */
  readonly retryLimit: number;
  /** Connections of pg-boss's own pool. Default 3. */
  readonly connections?: number;
  /** Run pg-boss maintenance (expiry, archiving) in this process. The API leaves it to workers. */
  readonly supervise?: boolean;
  readonly log?: (line: string) => void;
}

/** Long enough for any extraction; lost workers are detected by the heartbeat, not this. */
export const JOB_EXPIRE_HOURS = 23;

export async function startBoss(options: QueueOptions): Promise<PgBoss> {
  const boss = new PgBoss({
    connectionString: options.databaseUrl,
    max: options.connections ?? 3,
    supervise: options.supervise ?? false,
    schedule: false,
    application_name: 'strata',
  });
  boss.on('error', (error) => options.log?.(`queue: ${error.message}`));
  await boss.start();
  if (!(await boss.getQueue(JOB_QUEUE))) {
    await boss
      .createQueue(JOB_QUEUE, { name: JOB_QUEUE, retryLimit: options.retryLimit, retryDelay: 2, retryBackoff: true, expireInHours: JOB_EXPIRE_HOURS })
      .catch(async (error: unknown) => {
        // Another process created it between our check and our create.
        if (!(await boss.getQueue(JOB_QUEUE))) throw error;
      });
  }
  return boss;
}

export interface EnqueueRequest {
  readonly job: JobParams;
  readonly datasetId: number;
  readonly owner: string;
}

export class JobQueue {
  readonly #boss: PgBoss;
  readonly #store: Store;
  readonly #retryLimit: number;

  private constructor(boss: PgBoss, store: Store, retryLimit: number) {
    this.#boss = boss;
    this.#store = store;
    this.#retryLimit = retryLimit;
  }

  static async start(store: Store, options: QueueOptions): Promise<JobQueue> {
    return new JobQueue(await startBoss(options), store, options.retryLimit);
  }

  /** Records the job, then queues its id; a job that could not be queued is marked failed. */
  async enqueue(request: EnqueueRequest): Promise<JobRecord> {
    const bossId = randomUUID();
    const job = await createJob(this.#store, {
      kind: request.job.kind,
      datasetId: request.datasetId,
      owner: request.owner,
      key: jobKey(request.job, request.datasetId),
      params: { ...request.job.params },
      queue: JOB_QUEUE,
      bossId,
    });
    try {
      await this.#boss.send(JOB_QUEUE, { jobId: job.id }, { id: bossId, retryLimit: this.#retryLimit, retryDelay: 2, retryBackoff: true, expireInHours: JOB_EXPIRE_HOURS });
    } catch (error) {
      await failJob(this.#store, job.id, `could not be queued: ${error instanceof Error ? error.message : String(error)}`);
      throw error;
    }
    return job;
  }

  /** Takes a job that has not started off the queue (a running one stops at its heartbeat). */
  async cancelQueued(job: JobRecord): Promise<void> {
    if (job.bossId) await this.#boss.cancel(job.queue, job.bossId).catch(() => undefined);
  }

  async close(): Promise<void> {
    await this.#boss.stop({ graceful: false, wait: true, close: true });
  }
}
