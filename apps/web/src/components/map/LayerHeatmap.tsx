'use client';

import { useRef, useState, type KeyboardEvent } from 'react';
import { describeError, gql } from '../../api/client';
import { COMPUTE_LAYER_MATRIX, LAYER_MATRIX } from '../../api/queries';
import type { ComparisonMetric, LayerSimilarityMatrix } from '../../api/types';
import { useApi } from '../../hooks/useApi';
import { ErrorState, formatNumber, isActive, RunProgress, Skeleton } from '../common';

const METRICS: { value: ComparisonMetric; label: string }[] = [
  { value: 'CKA', label: 'CKA (linear)' },
  { value: 'RSA', label: 'RSA (Spearman of RDMs)' },
  { value: 'KNN_OVERLAP', label: 'kNN overlap' },
];

/** Viridis, 9 stops: perceptually even and readable by colour-blind users. */
const VIRIDIS = ['#440154', '#472d7b', '#3b528b', '#2c728e', '#21918c', '#28ae80', '#5ec962', '#addc30', '#fde725'];

function colorOf(t: number): string {
  const x = Math.max(0, Math.min(1, t)) * (VIRIDIS.length - 1);
  const i = Math.min(VIRIDIS.length - 2, Math.floor(x));
  const f = x - i;
  const a = VIRIDIS[i] as string;
  const b = VIRIDIS[i + 1] as string;
  const mix = (k: number) => Math.round(parseInt(a.slice(k, k + 2), 16) * (1 - f) + parseInt(b.slice(k, k + 2), 16) * f);
  return `rgb(${mix(1)} ${mix(3)} ${mix(5)})`;
}

/**
 * The layer x layer similarity matrix as a heatmap; each cell is a button that opens that pair
 * side by side. Arrow keys move between cells.
 */
export function LayerHeatmap({ datasetId, pair, onPick }: { datasetId: string; pair: readonly [string | null, string | null]; onPick: (a: string, b: string) => void }) {
  const [metric, setMetric] = useState<ComparisonMetric>('CKA');
  const [startError, setStartError] = useState<string | null>(null);
  const matrix = useApi<{ layerSimilarityMatrix: LayerSimilarityMatrix }>(LAYER_MATRIX, { datasetId, metric }, {
    pollMs: 2000,
    poll: (data) => data.layerSimilarityMatrix.status === 'QUEUED' || data.layerSimilarityMatrix.status === 'RUNNING' || isActive(data.layerSimilarityMatrix.run),
  });
  const grid = useRef<HTMLDivElement>(null);
  const compute = async () => {
    setStartError(null);
    try {
      await gql(COMPUTE_LAYER_MATRIX, { datasetId, metric });
      matrix.reload();
    } catch (error) {
      setStartError(describeError(error));
    }
  };
  const value = matrix.data?.layerSimilarityMatrix;
  const layers = value?.layers ?? [];
  const values = value?.values ?? [];
  let min = Infinity;
  let max = -Infinity;
  for (const row of values) for (const v of row) if (Number.isFinite(v)) [min, max] = [Math.min(min, v), Math.max(max, v)];
  const scale = (v: number) => (max > min ? (v - min) / (max - min) : 1);
  const onKey = (event: KeyboardEvent<HTMLButtonElement>, r: number, c: number) => {
    const moves: Record<string, [number, number]> = { ArrowUp: [-1, 0], ArrowDown: [1, 0], ArrowLeft: [0, -1], ArrowRight: [0, 1] };
    const move = moves[event.key];
    if (!move) return;
    event.preventDefault();
    const nr = Math.max(0, Math.min(layers.length - 1, r + move[0]));
    const nc = Math.max(0, Math.min(layers.length - 1, c + move[1]));
    grid.current?.querySelector<HTMLButtonElement>(`[data-cell="${nr}-${nc}"]`)?.focus();
  };
  return (
    <section aria-labelledby="heatmap-title" data-testid="heatmap">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h2 id="heatmap-title" style={{ margin: 0 }}>
          Layer similarity
        </h2>
        <select value={metric} onChange={(event) => setMetric(event.target.value as ComparisonMetric)} aria-label="Similarity measure">
          {METRICS.map((m) => (
            <option key={m.value} value={m.value}>
              {m.label}
            </option>
          ))}
        </select>
      </div>
      <div style={{ minHeight: '4rem', marginTop: 8 }}>
        {matrix.error && !value ? <ErrorState error={matrix.error} onRetry={matrix.reload} title="The matrix could not be loaded" /> : null}
        {!value && !matrix.error ? <Skeleton height="10rem" label="Loading the layer matrix" /> : null}
        {value && value.status === 'NOT_COMPUTED' ? (
          <div className="state">
            <span>Not computed yet for this dataset.</span>
            <button type="button" onClick={() => void compute()}>
              Compute {metric === 'KNN_OVERLAP' ? 'kNN overlap' : metric} matrix
            </button>
          </div>
        ) : null}
        {value && (value.status === 'QUEUED' || value.status === 'RUNNING') && value.run ? <RunProgress run={value.run} /> : null}
        {value && value.status === 'FAILED' ? (
          <div className="state error" role="alert">
            <strong>The matrix failed</strong>
            <span>{value.run?.error ?? 'no reason given'}</span>
            <button type="button" onClick={() => void compute()}>
              Try again
            </button>
          </div>
        ) : null}
        {startError ? (
          <p className="error-text" role="alert">
            {startError}
          </p>
        ) : null}
        {value && value.status === 'READY' && layers.length > 0 ? (
          <>
            <div ref={grid} className="heatmap" role="grid" aria-label={`${metric} between layers; a cell opens that pair side by side`} style={{ gridTemplateColumns: `auto repeat(${layers.length}, 30px)` }}>
              <div role="row" style={{ display: 'contents' }}>
                <span role="columnheader" />
                {layers.map((name) => (
                  <span key={name} role="columnheader" className="label col-label">
                    {name}
                  </span>
                ))}
              </div>
              {layers.map((rowName, r) => (
                <div role="row" key={rowName} style={{ display: 'contents' }}>
                  <span role="rowheader" className="label">
                    {rowName}
                  </span>
                  {layers.map((colName, c) => {
                    const v = values[r]?.[c] ?? NaN;
                    const t = scale(v);
                    const active = (pair[0] === rowName && pair[1] === colName) || (pair[0] === colName && pair[1] === rowName);
                    return (
                      <span role="gridcell" key={colName} style={{ display: 'contents' }}>
                        <button
                          type="button"
                          className="cell"
                          data-cell={`${r}-${c}`}
                          tabIndex={r === 0 && c === 0 ? 0 : -1}
                          aria-pressed={active}
                          aria-label={`${rowName} vs ${colName}: ${metric} ${formatNumber(v, 3)}`}
                          title={`${rowName} vs ${colName}: ${formatNumber(v, 3)}`}
                          style={{ background: Number.isFinite(v) ? colorOf(t) : 'var(--panel-2)', color: t > 0.6 ? '#111' : '#fff' }}
                          onClick={() => onPick(rowName, colName)}
                          onKeyDown={(event) => onKey(event, r, c)}
                        >
                          {layers.length <= 8 && Number.isFinite(v) ? v.toFixed(2) : ''}
                        </button>
                      </span>
                    );
                  })}
                </div>
              ))}
            </div>
            <div className="row small muted" style={{ marginTop: 6 }} aria-hidden="true">
              <span>{formatNumber(min, 2)}</span>
              <span style={{ width: 120, height: 10, borderRadius: 3, background: `linear-gradient(90deg, ${VIRIDIS.join(', ')})` }} />
              <span>{formatNumber(max, 2)}</span>
            </div>
          </>
        ) : null}
      </div>
    </section>
  );
}
