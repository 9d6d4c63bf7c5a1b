/**
 * Jobs of the API's worker processes (extraction, maps, comparisons): what was asked, by whom,
 * how far it got, which worker holds it and when that worker last showed it was alive. The
 * queue itself (delivery, retries) is pg-boss's; this table is what users poll and what the
 * workers' heartbeats and leases live in. Table strata_api.job (./api-schema.ts).
 */
import { ConflictError, InvalidInputError } from './errors.js';
import type { Store } from './store.js';

export type JobKind = 'extraction' | 'map' | 'comparison' | 'layer_matrix';
export type JobStatus = 'queued' | 'running' | 'done' | 'failed' | 'cancelled';
export const FINISHED_JOB_STATUSES: readonly JobStatus[] = ['done', 'failed', 'cancelled'];

/** A per-item problem (an unreadable image) a job met and went past. */
export interface JobItemError {
  readonly index: number | null;
  readonly id: string | null;
  readonly message: string;
}

export interface JobRecord {
  readonly id: number;
  readonly kind: JobKind;
  readonly status: JobStatus;
  readonly datasetId: number | null;
  readonly owner: string;
  /** What the job computes, e.g. `map:3:pool5:30:0`; finished results are found by it. */
  readonly key: string;
  readonly params: Record<string, unknown>;
  readonly queue: string;
  readonly bossId: string | null;
  readonly phase: string | null;
  readonly done: number;
  readonly total: number;
  /** Items per second in the current phase. */
  readonly rate: number | null;
  readonly errors: readonly JobItemError[];
  /** Why it failed (or the last attempt failed). */
  readonly error: string | null;
  readonly result: Record<string, unknown> | null;
  readonly attempts: number;
  /** The store's own run (public.run) for extractions. */
  readonly coreRunId: number | null;
  readonly worker: string | null;
  readonly heartbeatAt: Date | null;
  readonly cancelRequested: boolean;
  readonly createdAt: Date;
  readonly startedAt: Date | null;
  readonly updatedAt: Date;
  readonly finishedAt: Date | null;
}

interface JobRow {
  id: number;
  kind: JobKind;
  status: JobStatus;
  dataset_id: number | null;
  owner: string;
  key: string;
  params: unknown;
  queue: string;
  boss_id: string | null;
  phase: string | null;
  done: number;
  total: number;
  rate: number | null;
  errors: unknown;
  error: string | null;
  result: unknown;
  attempts: number;
  core_run_id: number | null;
  worker: string | null;
  heartbeat_at: Date | null;
  cancel_requested: boolean;
  created_at: Date;
  started_at: Date | null;
  updated_at: Date;
  finished_at: Date | null;
}

const COLUMNS = `id, kind, status, dataset_id, owner, key, params, queue, boss_id::text AS boss_id, phase, done, total, rate, errors, error,
  result, attempts, core_run_id, worker, heartbeat_at, cancel_requested, created_at, started_at, updated_at, finished_at`;

function json(value: unknown): unknown {
  return typeof value === 'string' ? JSON.parse(value) : value;
}

function record(row: JobRow): JobRecord {
  return {
    id: row.id,
    kind: row.kind,
    status: row.status,
    datasetId: row.dataset_id,
    owner: row.owner,
    key: row.key,
    params: (json(row.params) ?? {}) as Record<string, unknown>,
    queue: row.queue,
    bossId: row.boss_id,
    phase: row.phase,
    done: row.done,
    total: row.total,
    rate: row.rate,
    errors: (json(row.errors) ?? []) as JobItemError[],
    error: row.error,
    result: (json(row.result) ?? null) as Record<string, unknown> | null,
    attempts: row.attempts,
    coreRunId: row.core_run_id,
    worker: row.worker,
    heartbeatAt: row.heartbeat_at,
    cancelRequested: row.cancel_requested,
    createdAt: row.created_at,
    startedAt: row.started_at,
    updatedAt: row.updated_at,
    finishedAt: row.finished_at,
  };
}

function intArray(ids: readonly number[]): string {
  return `{${ids.map((id) => Math.trunc(id)).join(',')}}`;
}

async function query(store: Store, sql: string, ...params: unknown[]): Promise<JobRecord[]> {
  const rows = await store.withPrisma((prisma) => prisma.$queryRawUnsafe<JobRow[]>(sql, ...params));
  return rows.map(record);
}

export interface NewJob {
  readonly kind: JobKind;
  readonly datasetId: number | null;
  readonly owner: string;
  readonly key: string;
  readonly params: Record<string, unknown>;
  readonly queue: string;
  /** pg-boss job id, chosen before sending so that the row and the queue agree. */
  readonly bossId: string;
}

export async function createJob(store: Store, job: NewJob): Promise<JobRecord> {
  const rows = await query(
    store,
    `INSERT INTO strata_api.job (kind, dataset_id, owner, key, params, queue, boss_id)
       VALUES ($1::text, $2::int, $3::text, $4::text, $5::jsonb, $6::text, $7::uuid) RETURNING ${COLUMNS}`,
    job.kind,
    job.datasetId,
    job.owner,
    job.key,
    JSON.stringify(job.params),
    job.queue,
    job.bossId,
  ).catch((error: unknown) => {
    if (String((error as Error).message).includes('job_one_extraction_idx')) {
      throw new ConflictError(`an extraction of dataset ${job.datasetId} is already queued or running; wait for it or cancel it first`);
    }
    throw error;
  });
  return rows[0] as JobRecord;
}

/** Jobs by id, in the order asked; null where there is none. */
export async function getJobs(store: Store, ids: readonly number[]): Promise<(JobRecord | null)[]> {
  if (ids.length === 0) return [];
  const rows = await query(store, `SELECT ${COLUMNS} FROM strata_api.job WHERE id = ANY($1::int[])`, intArray(ids));
  const byId = new Map(rows.map((row) => [row.id, row]));
  return ids.map((id) => byId.get(id) ?? null);
}

export interface JobFilter {
  readonly datasetIds?: readonly number[];
  readonly owner?: string;
  readonly statuses?: readonly JobStatus[];
  readonly kinds?: readonly JobKind[];
  readonly key?: string;
  /** Default 50, at most 500. */
  readonly limit?: number;
}

/** Newest first. */
export async function listJobs(store: Store, filter: JobFilter = {}): Promise<JobRecord[]> {
  const limit = filter.limit ?? 50;
  if (!Number.isInteger(limit) || limit < 1 || limit > 500) throw new InvalidInputError(`limit must be an integer in [1, 500], got ${limit}`);
  const where: string[] = [];
  const params: unknown[] = [];
  if (filter.datasetIds) {
    params.push(intArray(filter.datasetIds));
    where.push(`dataset_id = ANY($${params.length}::int[])`);
  }
  if (filter.owner !== undefined) {
    params.push(filter.owner);
    where.push(`owner = $${params.length}::text`);
  }
  if (filter.statuses) {
    params.push(`{${filter.statuses.join(',')}}`);
    where.push(`status = ANY($${params.length}::text[])`);
  }
  if (filter.kinds) {
    params.push(`{${filter.kinds.join(',')}}`);
    where.push(`kind = ANY($${params.length}::text[])`);
  }
  if (filter.key !== undefined) {
    params.push(filter.key);
    where.push(`key = $${params.length}::text`);
  }
  return query(store, `SELECT ${COLUMNS} FROM strata_api.job ${where.length ? `WHERE ${where.join(' AND ')}` : ''} ORDER BY id DESC LIMIT ${limit}`, ...params);
}

/** The newest job computing `key` with one of `statuses` (default: any). */
export async function latestJob(store: Store, key: string, statuses?: readonly JobStatus[]): Promise<JobRecord | null> {
  return (await listJobs(store, { key, limit: 1, ...(statuses ? { statuses } : {}) }))[0] ?? null;
}

/**
 * A worker takes a job it was handed by the queue. Returns null when the job is finished or
 * cancelled (a late delivery): the worker then acknowledges it without doing anything.
 */
export async function claimJob(store: Store, id: number, worker: string): Promise<JobRecord | null> {
  const rows = await query(
    store,
    `UPDATE strata_api.job SET status = 'running', worker = $2::text, heartbeat_at = now(), attempts = attempts + 1,
        started_at = coalesce(started_at, now()), updated_at = now(), phase = CASE WHEN attempts > 0 THEN 'resuming' ELSE 'starting' END
      WHERE id = $1::int AND status IN ('queued', 'running') AND NOT cancel_requested RETURNING ${COLUMNS}`,
    id,
    worker,
  );
  return rows[0] ?? null;
}

export interface Heartbeat {
  /** False when another worker took the job over (this one was thought dead) or it finished. */
  readonly owned: boolean;
  readonly cancelRequested: boolean;
}

export async function heartbeatJob(store: Store, id: number, worker: string): Promise<Heartbeat> {
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<{ cancel_requested: boolean }[]>(
      `UPDATE strata_api.job SET heartbeat_at = now() WHERE id = $1::int AND worker = $2::text AND status = 'running' RETURNING cancel_requested`,
      id,
      worker,
    ),
  );
  const row = rows[0];
  return { owned: row !== undefined, cancelRequested: row?.cancel_requested ?? false };
}

export interface JobProgress {
  readonly phase?: string;
  readonly done?: number;
  readonly total?: number;
  readonly rate?: number | null;
  /** New per-item errors, appended to the job's list. */
  readonly newErrors?: readonly JobItemError[];
  readonly coreRunId?: number;
}

export async function reportJobProgress(store: Store, id: number, worker: string, progress: JobProgress): Promise<void> {
  await store.withPrisma((prisma) =>
    prisma.$executeRawUnsafe(
      `UPDATE strata_api.job SET phase = coalesce($3::text, phase), done = coalesce($4::int, done), total = coalesce($5::int, total),
          rate = CASE WHEN $6::boolean THEN $7::double precision ELSE rate END,
          errors = errors || $8::jsonb, core_run_id = coalesce($9::int, core_run_id), heartbeat_at = now(), updated_at = now()
        WHERE id = $1::int AND worker = $2::text AND status = 'running'`,
      id,
      worker,
      progress.phase ?? null,
      progress.done ?? null,
      progress.total ?? null,
      progress.rate !== undefined,
      progress.rate ?? null,
      JSON.stringify(progress.newErrors ?? []),
      progress.coreRunId ?? null,
    ),
  );
}

export interface JobOutcome {
  readonly status: JobStatus;
  readonly result?: Record<string, unknown>;
  readonly error?: string;
  readonly phase?: string;
}

/**
 * Records how an attempt ended. 'queued' means "failed, and the queue will retry it". Only the
 * worker holding the job may finish it; returns false when it no longer does.
 */
export async function finishJob(store: Store, id: number, worker: string, outcome: JobOutcome): Promise<boolean> {
  const finished = FINISHED_JOB_STATUSES.includes(outcome.status);
  const count = await store.withPrisma((prisma) =>
    prisma.$executeRawUnsafe(
      `UPDATE strata_api.job SET status = $3::text, result = coalesce($4::jsonb, result), error = $5::text,
          phase = coalesce($6::text, phase), worker = CASE WHEN $7::boolean THEN worker ELSE NULL END,
          finished_at = CASE WHEN $7::boolean THEN now() ELSE NULL END, updated_at = now()
        WHERE id = $1::int AND worker = $2::text AND status = 'running'`,
      id,
      worker,
      outcome.status,
      outcome.result === undefined ? null : JSON.stringify(outcome.result),
      outcome.error ?? null,
      outcome.phase ?? null,
      finished,
    ),
  );
  return count > 0;
}

/**
 * Asks for a job to stop. A queued job is cancelled at once (returned with status
 * 'cancelled'); a running one is flagged, and its worker stops at its next heartbeat.
 */
export async function requestJobCancel(store: Store, id: number): Promise<JobRecord | null> {
  const rows = await query(
    store,
    `UPDATE strata_api.job SET cancel_requested = true,
        status = CASE WHEN status = 'queued' THEN 'cancelled' ELSE status END,
        finished_at = CASE WHEN status = 'queued' THEN now() ELSE finished_at END,
        phase = CASE WHEN status = 'queued' THEN 'cancelled before it started' ELSE phase END,
        updated_at = now()
      WHERE id = $1::int RETURNING ${COLUMNS}`,
    id,
  );
  return rows[0] ?? null;
}

/** Marks a job failed outside any worker (it could not be queued, or the queue gave up on it). */
export async function failJob(store: Store, id: number, error: string): Promise<void> {
  await store.withPrisma((prisma) =>
    prisma.$executeRawUnsafe(
      `UPDATE strata_api.job SET status = 'failed', error = $2::text, worker = NULL, finished_at = now(), updated_at = now()
        WHERE id = $1::int AND status IN ('queued', 'running')`,
      id,
      error,
    ),
  );
}

export interface StaleJob {
  readonly id: number;
  readonly queue: string;
  readonly bossId: string | null;
  readonly worker: string;
}

/**
 * Takes back running jobs whose worker has not sent a heartbeat for `staleSeconds` (killed,
 * crashed, cut off): they go back to 'queued' for the queue to deliver again. Atomic, so that
 * several supervising workers never take back the same job twice.
 */
export async function reclaimStaleJobs(store: Store, staleSeconds: number): Promise<StaleJob[]> {
  if (!(staleSeconds > 0)) throw new InvalidInputError(`staleSeconds must be positive, got ${staleSeconds}`);
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<{ id: number; queue: string; boss_id: string | null; worker: string }[]>(
      `UPDATE strata_api.job j SET status = 'queued', worker = NULL, updated_at = now(),
          error = 'worker ' || s.worker || ' stopped sending heartbeats; retrying', phase = 'waiting for another worker'
        FROM (SELECT id, worker FROM strata_api.job WHERE status = 'running' AND heartbeat_at < now() - make_interval(secs => $1::double precision) FOR UPDATE SKIP LOCKED) s
        WHERE j.id = s.id RETURNING j.id, j.queue, j.boss_id::text AS boss_id, s.worker`,
      staleSeconds,
    ),
  );
  return rows.map((row) => ({ id: row.id, queue: row.queue, bossId: row.boss_id, worker: row.worker }));
}
