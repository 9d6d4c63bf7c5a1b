/**
 * The metrics layers are compared by, as named on the command line and in stored results:
 * `cka`, `cka-debiased`, `rsa`, `knn` or `knn:K`.
 */
import { DEFAULT_K } from './knn.js';

export const COMPARISON_METRICS = ['cka', 'cka-debiased', 'rsa', 'knn'] as const;
export type ComparisonMetric = (typeof COMPARISON_METRICS)[number];

export interface MetricSpec {
  readonly metric: ComparisonMetric;
  /** Neighbours per image, for 'knn'. */
  readonly k?: number;
}

export function parseMetric(text: string): MetricSpec {
  const [name = '', kText, ...rest] = text.trim().split(':');
  const metric = COMPARISON_METRICS.find((m) => m === name);
  if (!metric || rest.length > 0) {
    throw new RangeError(`Unknown metric "${text}"; expected one of ${COMPARISON_METRICS.join(', ')}, or knn:K (e.g. knn:20)`);
  }
  if (kText === undefined) return metric === 'knn' ? { metric, k: DEFAULT_K } : { metric };
  if (metric !== 'knn') throw new RangeError(`Metric "${text}" takes no ":" parameter; only knn:K does`);
  const k = Number(kText);
  if (!Number.isInteger(k) || k < 1) throw new RangeError(`knn:K needs a positive integer K, got "${kText}"`);
  return { metric, k };
}

export function formatMetric(spec: MetricSpec): string {
  return spec.metric === 'knn' ? `knn:${spec.k ?? DEFAULT_K}` : spec.metric;
}
