'use client';

import Link from 'next/link';
import { DATASETS } from '../api/queries';
import type { DatasetSummary } from '../api/types';
import { useApi } from '../hooks/useApi';
import { EmptyState, ErrorState, formatDate, formatNumber, Skeleton, StatusBadge } from './common';

export function DatasetList() {
  const { data, error, loading, reload } = useApi<{ datasets: DatasetSummary[] }>(DATASETS, {});
  if (error && !data) return <ErrorState error={error} onRetry={reload} title="The datasets could not be loaded" />;
  if (loading && !data) {
    return (
      <div className="dataset-cards" aria-busy="true">
        {[0, 1, 2].map((i) => (
          <div key={i} className="panel">
            <Skeleton height="1.3rem" width="60%" label={i === 0 ? 'Loading datasets' : undefined} />
            <div style={{ height: 8 }} />
            <Skeleton height="5.5rem" />
          </div>
        ))}
      </div>
    );
  }
  const datasets = data?.datasets ?? [];
  if (datasets.length === 0) {
    return (
      <EmptyState title="No datasets yet">
        <span>
          Create one above (an HDF5 brick or a folder on the server, or an uploaded HDF5 file), or ingest one on the server with{' '}
          <code>strata ingest --images stimuli.hdf5 --name nsd --layers pool1,pool5</code> and reload this page.
        </span>
        <button type="button" onClick={reload}>
          Reload
        </button>
      </EmptyState>
    );
  }
  return (
    <ul className="dataset-cards" style={{ listStyle: 'none', padding: 0, margin: 0 }}>
      {datasets.map((dataset) => {
        const ready = dataset.layers.filter((layer) => layer.status === 'READY');
        return (
          <li key={dataset.id} className="panel dataset-card">
            <h2>
              <Link href={`/datasets/${dataset.id}`}>{dataset.name}</Link>
            </h2>
            <div className="meta">
              <span className="muted">Images</span>
              <span>
                {formatNumber(dataset.storedImages)} stored of {formatNumber(dataset.imageCount)} ({dataset.sourceKind.toLowerCase()})
              </span>
              <span className="muted">Layers</span>
              <span>
                {dataset.layers.length === 0
                  ? 'none extracted'
                  : dataset.layers.map((layer) => (
                      <span key={layer.name} style={{ marginRight: 6 }}>
                        {layer.name}
                        {layer.status !== 'READY' ? (
                          <>
                            {' '}
                            <StatusBadge status={layer.status} />
                          </>
                        ) : null}
                      </span>
                    ))}
              </span>
              <span className="muted">Owner</span>
              <span>
                {dataset.owner ?? 'lab (server)'} · {dataset.visibility === 'LAB' ? 'shared with the lab' : 'private'}
              </span>
              <span className="muted">Created</span>
              <span>{formatDate(dataset.createdAt)}</span>
            </div>
            <div className="row" style={{ marginTop: 10 }}>
              <Link className="button" href={`/datasets/${dataset.id}`}>
                Open
              </Link>
              {ready.length > 0 ? (
                <Link className="button" href={`/datasets/${dataset.id}/map?layer=${encodeURIComponent(ready[ready.length - 1]?.name ?? '')}`}>
                  Map
                </Link>
              ) : null}
              {ready.length > 1 ? (
                <Link className="button" href={`/datasets/${dataset.id}/compare`}>
                  Compare layers
                </Link>
              ) : null}
            </div>
          </li>
        );
      })}
    </ul>
  );
}
