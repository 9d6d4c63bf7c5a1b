/**
 * Checks and conversions every resolver shares: ids, bounds (k <= 100, limit <= 500), roles
 * and dataset visibility, enum mapping, signed file URLs.
 */
import { getLayer, type LayerInfo } from '@strata/core';
import { canCompute, canModify, hasRole, type Role } from '@strata/core/auth';
import type { JobRecord, JobStatus, Metric } from '@strata/core/store';
import type { ApiContext } from '../context.js';
import { badInput, forbidden, notFound } from '../errors.js';
import type { DatasetModel, ResultState } from '../models.js';

export const MAX_K = 100;
export const MAX_LIMIT = 500;

export function parseId(value: string | number, what: string): number {
  const text = String(value);
  if (!/^\d{1,10}$/.test(text) || Number(text) > 2 ** 31 - 1) {
    throw badInput(`${what} must be a positive integer id, got "${text}"`, { argument: what });
  }
  return Number(text);
}

export function checkK(k: number): number {
  if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw badInput(`k must be an integer from 1 to ${MAX_K}, got ${k}`, { argument: 'k', max: MAX_K });
  return k;
}

export function checkPage(offset: number, limit: number): { offset: number; limit: number } {
  if (!Number.isInteger(offset) || offset < 0) throw badInput(`offset must be a non-negative integer, got ${offset}`, { argument: 'offset' });
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_LIMIT) {
    throw badInput(`limit must be an integer from 1 to ${MAX_LIMIT}, got ${limit}`, { argument: 'limit', max: MAX_LIMIT });
  }
  return { offset, limit };
}

export function checkLayer(name: string, argument = 'layer'): LayerInfo {
  try {
    return getLayer(name);
  } catch (error) {
    throw badInput((error as Error).message, { argument });
  }
}

export function metricOf(metric: 'COSINE' | 'L2'): Metric {
  return metric === 'L2' ? 'l2' : 'cosine';
}

export function metricEnum(metric: Metric): 'COSINE' | 'L2' {
  return metric === 'l2' ? 'L2' : 'COSINE';
}

export function requireRole(context: ApiContext, role: Role, action: string): void {
  if (!hasRole(context.principal.role, role)) {
    throw forbidden(`${action} needs the ${role} role; your token (${context.principal.user}) has ${context.principal.role}`);
  }
}

/** A dataset the caller can see, or NOT_FOUND (a private dataset of someone else looks missing). */
export async function requireDataset(context: ApiContext, id: string | number): Promise<DatasetModel> {
  const datasetId = parseId(id, 'datasetId');
  const dataset = await context.loaders.dataset.load(datasetId);
  if (!dataset) throw notFound(`no dataset with id ${datasetId} (or it is private to someone else)`);
  return dataset;
}

export function requireModify(context: ApiContext, dataset: DatasetModel, action: string): void {
  requireRole(context, 'editor', action);
  if (!canModify(context.principal, dataset.access)) {
    throw forbidden(
      `${action} on dataset "${dataset.name}" is for its owner (${dataset.access.owner ?? 'none: made outside the API'}) and admins; you are ${context.principal.user}`,
    );
  }
}

export function requireCompute(context: ApiContext, dataset: DatasetModel, action: string): void {
  requireRole(context, 'editor', action);
  if (!canCompute(context.principal, dataset.access)) throw forbidden(`${action} on dataset "${dataset.name}" is not allowed for ${context.principal.user}`);
}

/** A run is visible to its owner, to admins, and to whoever can see its dataset. */
export async function visibleJob(context: ApiContext, job: JobRecord | null): Promise<JobRecord | null> {
  if (!job) return null;
  if (context.principal.role === 'admin' || job.owner === context.principal.user) return job;
  if (job.datasetId !== null && (await context.loaders.dataset.load(job.datasetId))) return job;
  return null;
}

export function resultState(job: JobRecord | null, ready: boolean): ResultState {
  if (ready) return 'READY';
  if (!job) return 'NOT_COMPUTED';
  const map: Record<JobStatus, ResultState> = { queued: 'QUEUED', running: 'RUNNING', done: 'FAILED', failed: 'FAILED', cancelled: 'NOT_COMPUTED' };
  return map[job.status];
}

/** An absolute, signed URL for a /files path, valid for the caller's token. */
export function fileUrl(context: ApiContext, path: string): string {
  return `${context.origin}${context.services.signer.sign(path, context.principal.tokenId)}`;
}
