/**
 * @strata/core/jobs: the long jobs Strata's workers run (extraction, t-SNE maps, layer
 * comparisons), their parameters and keys. The queue (pg-boss) and the worker process are in
 * apps/api; the job table in ../store/job-repository.ts.
 *
 * Importing this subpath is light (the API process does, for job keys); onnxruntime, the t-SNE
 * workers and sharp load on the first runJob, in workers only.
 */
import type { ExecutionProvider } from '../model/runtime.js';
import type { JobContext, JobResult } from './run-job.js';

export { JOB_QUEUE, isPermanentJobError, jobKey, readJobParams } from './definitions.js';
export type { ComparisonParams, ExtractionParams, JobMessage, JobParams, LayerMatrixParams, MapParams } from './definitions.js';
export type { JobContext, JobResult } from './run-job.js';
export type { ExecutionProvider } from '../model/runtime.js';

/** Runs one job (see ./run-job.ts). */
export async function runJob(context: JobContext): Promise<JobResult> {
  const { runJob: run } = await import('./run-job.js');
  return run(context);
}

/** Resolves when this process can run models on `provider` (see ./device-check.ts). */
export async function checkExecutionProvider(provider: ExecutionProvider): Promise<void> {
  const { checkExecutionProvider: check } = await import('./device-check.js');
  return check(provider);
}
