'use client';

import type { ReactNode } from 'react';
import { describeError } from '../api/client';
import type { Run } from '../api/types';

export function ErrorState({ error, onRetry, title = 'Something went wrong' }: { error: unknown; onRetry?: () => void; title?: string }) {
  return (
    <div className="state error" role="alert">
      <strong>{title}</strong>
      <span>{describeError(error)}</span>
      {onRetry ? (
        <button type="button" onClick={onRetry}>
          Try again
        </button>
      ) : null}
    </div>
  );
}

export function EmptyState({ title, children }: { title: string; children?: ReactNode }) {
  return (
    <div className="state" role="status">
      <strong>{title}</strong>
      {children}
    </div>
  );
}

/** A grey block that holds the space its content will take (no layout jump when it arrives). */
export function Skeleton({ width = '100%', height = '1em', label, inline = false }: { width?: string | number; height?: string | number; label?: string; inline?: boolean }) {
  const props = { className: 'skeleton', role: label ? 'status' : undefined, 'aria-label': label, 'aria-busy': label ? true : undefined };
  // Inline, it sits inside a line of text without changing the line's height.
  if (inline) return <span {...props} style={{ display: 'inline-block', verticalAlign: 'middle', width, height }} />;
  return <div {...props} style={{ width, height }} />;
}

export function formatNumber(value: number | null | undefined, digits = 0): string {
  if (value === null || value === undefined || !Number.isFinite(value)) return '–';
  return value.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: digits });
}

export function formatDuration(seconds: number | null | undefined): string {
  if (seconds === null || seconds === undefined || !Number.isFinite(seconds)) return '';
  if (seconds < 60) return `${Math.round(seconds)} s`;
  if (seconds < 3600) return `${Math.floor(seconds / 60)} min ${Math.round(seconds % 60)} s`;
  return `${Math.floor(seconds / 3600)} h ${Math.round((seconds % 3600) / 60)} min`;
}

export function formatDate(iso: string | null | undefined): string {
  if (!iso) return '–';
  const date = new Date(iso);
  return Number.isNaN(date.getTime()) ? iso : date.toLocaleString('en-GB', { dateStyle: 'medium', timeStyle: 'short' });
}

export function isActive(run: Pick<Run, 'status'> | null | undefined): boolean {
  return !!run && (run.status === 'QUEUED' || run.status === 'RUNNING');
}

/** A labelled progress bar; indeterminate when the total is unknown. */
export function ProgressBar({ value, max, label, detail }: { value: number; max: number; label: string; detail?: string }) {
  const known = max > 0 && Number.isFinite(value);
  const share = known ? Math.max(0, Math.min(1, value / max)) : 0;
  return (
    <div className="progress">
      <div
        className={`bar${known ? '' : ' indeterminate'}`}
        role="progressbar"
        aria-label={label}
        aria-valuemin={0}
        aria-valuemax={known ? max : undefined}
        aria-valuenow={known ? value : undefined}
        aria-valuetext={detail}
      >
        <span style={{ width: `${(share * 100).toFixed(1)}%` }} />
      </div>
      {detail ? <span className="small muted">{detail}</span> : null}
    </div>
  );
}

const STATUS_CLASS: Record<string, string> = { DONE: 'ok', READY: 'ok', RUNNING: 'warn', QUEUED: 'warn', INGESTING: 'warn', SAMPLING: 'warn', INDEXING: 'warn', FAILED: 'bad', CANCELLED: 'bad' };

export function StatusBadge({ status }: { status: string }) {
  return <span className={`badge ${STATUS_CLASS[status] ?? ''}`}>{status.toLowerCase().replaceAll('_', ' ')}</span>;
}

/** A job's progress: phase, done/total, rate and time left. */
export function RunProgress({ run }: { run: Run }) {
  const parts = [run.phase ?? run.kind.toLowerCase()];
  if (run.total > 0) parts.push(`${formatNumber(run.done)} / ${formatNumber(run.total)}`);
  if (run.rate) parts.push(`${formatNumber(run.rate, 1)}/s`);
  if (run.etaSeconds) parts.push(`${formatDuration(run.etaSeconds)} left`);
  const detail = parts.join(' · ');
  if (!isActive(run)) {
    return (
      <span className="small">
        <StatusBadge status={run.status} /> {run.error ? <span className="muted">{run.error}</span> : null}
      </span>
    );
  }
  return <ProgressBar value={run.progress !== null ? run.progress * 100 : run.total > 0 ? (100 * run.done) / run.total : NaN} max={run.status === 'QUEUED' ? 0 : 100} label={`${run.kind.toLowerCase()} job ${run.id}`} detail={run.status === 'QUEUED' ? 'queued' : detail} />;
}
