import type { RunErrorResolvers, RunResolvers } from '../../generated/resolvers.js';

export const Run: RunResolvers = {
  id: (job) => String(job.id),
  kind: (job) => job.kind.toUpperCase() as 'EXTRACTION' | 'MAP' | 'COMPARISON' | 'LAYER_MATRIX',
  status: (job) => job.status.toUpperCase() as 'QUEUED' | 'RUNNING' | 'DONE' | 'FAILED' | 'CANCELLED',
  dataset: (job, _args, context) => (job.datasetId === null ? null : context.loaders.dataset.load(job.datasetId)),
  etaSeconds: (job) => (job.status === 'running' && job.rate && job.rate > 0 && job.total > job.done ? (job.total - job.done) / job.rate : null),
  progress: (job) => (job.status === 'done' ? 1 : job.total > 0 ? Math.min(1, job.done / job.total) : null),
  errors: (job) => [...job.errors],
  params: (job) => job.params,
  result: (job) => job.result,
};

export const RunError: RunErrorResolvers = {
  sourceId: (error) => error.id,
};
