/**
 * @strata/core/jobs: the long jobs Strata's workers run (extraction, t-SNE maps, layer
 * comparisons), their parameters and keys. The queue (pg-boss) and the worker process are in
 * apps/api; the job table in ../store/job-repository.ts. Loads onnxruntime only when an
 * extraction runs.
 */
export { JOB_QUEUE, isPermanentJobError, jobKey, readJobParams } from './definitions.js';
export type { ComparisonParams, ExtractionParams, JobMessage, JobParams, LayerMatrixParams, MapParams } from './definitions.js';
export { runJob } from './run-job.js';
export type { JobContext, JobResult } from './run-job.js';
export { NotAvailableError, capabilities, compareModule, mapsModule } from './optional-modules.js';
export type { Capabilities, CompareModule, CompareProgressLike, LayerComparisonResult, LayerMatrixResult, MapProgressLike, MapRecord, MapsModule } from './optional-modules.js';
