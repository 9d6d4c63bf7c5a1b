'use client';

import { useEffect, useMemo, useRef, useState, type DragEvent } from 'react';
import { ApiError, describeError, gql, thumbnailUrl, uploadImage } from '../api/client';
import { DATASET_BRIEF, SIMILAR } from '../api/queries';
import type { Dataset, Neighbor } from '../api/types';
import { useApi } from '../hooks/useApi';
import { EmptyState, ErrorState, formatNumber, ProgressBar, Skeleton } from './common';
import { DatasetNav } from './DatasetNav';

const ACCEPT = 'image/jpeg,image/png,image/webp,image/tiff';
const MAX_BYTES = 16 * 1024 * 1024;

type Row = { layer: string; state: 'waiting' | 'running' | 'done' | 'error'; neighbors: Neighbor[]; error?: string };

function sleep(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => {
      clearTimeout(timer);
      reject(new DOMException('aborted', 'AbortError'));
    });
  });
}

/** Query by image: an image from outside the dataset, and its nearest neighbours in each layer. */
export function SimilarSearch({ datasetId }: { datasetId: string }) {
  const dataset = useApi<{ dataset: Dataset | null }>(DATASET_BRIEF, { id: datasetId });
  const info = dataset.data?.dataset ?? null;
  const ready = useMemo(() => (info?.layers ?? []).filter((layer) => layer.status === 'READY').map((layer) => layer.name), [info]);
  const [chosen, setChosen] = useState<Set<string> | null>(null);
  const layers = chosen ?? new Set(ready);
  const [k, setK] = useState(8);
  const [file, setFile] = useState<File | null>(null);
  const [preview, setPreview] = useState<string | null>(null);
  const [over, setOver] = useState(false);
  const [rows, setRows] = useState<Row[]>([]);
  const [phase, setPhase] = useState<string | null>(null);
  const [error, setError] = useState<string | null>(null);
  const input = useRef<HTMLInputElement>(null);
  const running = useRef<AbortController | null>(null);

  useEffect(() => {
    if (!file) return undefined;
    const url = URL.createObjectURL(file);
    setPreview(url);
    return () => URL.revokeObjectURL(url);
  }, [file]);
  useEffect(() => () => running.current?.abort(), []);

  const search = async (picked: File, wanted: readonly string[]) => {
    running.current?.abort();
    const abort = new AbortController();
    running.current = abort;
    setError(null);
    const order = ready.filter((name) => wanted.includes(name));
    setRows(order.map((layer) => ({ layer, state: 'waiting', neighbors: [] })));
    if (order.length === 0) {
      setError('Choose at least one layer');
      return;
    }
    try {
      setPhase('Uploading the image');
      const uploadId = await uploadImage(picked, { signal: abort.signal });
      for (const [index, layer] of order.entries()) {
        setPhase(`Searching ${layer} (${index + 1} of ${order.length})`);
        setRows((current) => current.map((row) => (row.layer === layer ? { ...row, state: 'running' } : row)));
        for (let attempt = 0; ; attempt++) {
          try {
            const result = await gql<{ similarImages: Neighbor[] }>(SIMILAR, { datasetId, uploadId, layer, k }, { signal: abort.signal });
            setRows((current) => current.map((row) => (row.layer === layer ? { ...row, state: 'done', neighbors: result.similarImages } : row)));
            break;
          } catch (caught) {
            // The server runs a few searches at a time; wait and ask again.
            if (caught instanceof ApiError && caught.code === 'TOO_MANY_REQUESTS' && attempt < 6) {
              await sleep(1000 * (attempt + 1), abort.signal);
              continue;
            }
            if ((caught as Error).name === 'AbortError') throw caught;
            setRows((current) => current.map((row) => (row.layer === layer ? { ...row, state: 'error', error: describeError(caught) } : row)));
            break;
          }
        }
      }
      setPhase(null);
    } catch (caught) {
      if ((caught as Error).name === 'AbortError') return;
      setPhase(null);
      setError(describeError(caught));
    }
  };

  const accept = (picked: File | undefined) => {
    if (!picked) return;
    if (picked.size > MAX_BYTES) {
      setError(`${picked.name} is ${formatNumber(picked.size / 1048576, 1)} MiB; at most 16 MiB are accepted`);
      return;
    }
    if (picked.type && !ACCEPT.split(',').includes(picked.type)) {
      setError(`${picked.name} is ${picked.type}; use a JPEG, PNG, WebP or TIFF image`);
      return;
    }
    setFile(picked);
    void search(picked, [...layers]);
  };

  const onDrop = (event: DragEvent) => {
    event.preventDefault();
    setOver(false);
    accept(event.dataTransfer.files[0]);
  };

  const done = rows.filter((row) => row.state === 'done' || row.state === 'error').length;

  return (
    <>
      <DatasetNav id={datasetId} name={info?.name ?? null} />
      {dataset.error && !info ? <ErrorState error={dataset.error} onRetry={dataset.reload} /> : null}
      <div className="layout-2col">
        <section aria-labelledby="query-title">
          <h2 id="query-title" style={{ marginTop: 0 }}>
            Nearest images per layer
          </h2>
          <div style={{ minHeight: '2.6rem' }}>
            {phase ? <ProgressBar value={done} max={rows.length} label="Search progress" detail={phase} /> : null}
            {error ? (
              <p className="error-text" role="alert">
                {error}
              </p>
            ) : null}
          </div>
          {rows.length === 0 ? (
            <EmptyState title="No query yet">
              <span>Drop an image on the right, or choose one; Strata runs it through the same VGG16 and PCA as the dataset and searches each layer.</span>
            </EmptyState>
          ) : (
            <div data-testid="similar-results">
              {rows.map((row) => (
                <div key={row.layer} className="results-row" data-layer={row.layer} data-state={row.state}>
                  <div>
                    <strong>{row.layer}</strong>
                    <div className="small muted">{row.state === 'done' ? `${row.neighbors.length} found` : row.state}</div>
                  </div>
                  {row.state === 'error' ? (
                    <p className="error-text">{row.error}</p>
                  ) : (
                    <div className="thumbs">
                      {row.state === 'done'
                        ? row.neighbors.map((neighbor, rank) => (
                            <figure key={neighbor.image.id}>
                              {/* eslint-disable-next-line @next/next/no-img-element */}
                              <img src={thumbnailUrl(neighbor.image.id)} alt={`Rank ${rank + 1} in ${row.layer}: image ${neighbor.image.index} (${neighbor.image.sourceId})`} loading="lazy" />
                              <figcaption>{formatNumber(neighbor.distance, 3)}</figcaption>
                            </figure>
                          ))
                        : Array.from({ length: k }, (_, i) => <Skeleton key={i} height="88px" />)}
                    </div>
                  )}
                </div>
              ))}
            </div>
          )}
        </section>
        <aside className="panel" aria-label="Query image and options">
          <div
            className={`dropzone${over ? ' over' : ''}`}
            onDragOver={(event) => {
              event.preventDefault();
              setOver(true);
            }}
            onDragLeave={() => setOver(false)}
            onDrop={onDrop}
            data-testid="dropzone"
          >
            {/* eslint-disable-next-line @next/next/no-img-element */}
            {preview ? <img src={preview} alt={`Query image ${file?.name ?? ''}`} /> : <span className="muted">Drop an image here</span>}
            <button type="button" onClick={() => input.current?.click()}>
              {file ? 'Choose another image' : 'Choose an image'}
            </button>
            <input ref={input} type="file" accept={ACCEPT} className="visually-hidden" aria-label="Query image file" data-testid="query-file" onChange={(event) => accept(event.target.files?.[0])} />
          </div>
          <fieldset style={{ marginTop: '1rem' }}>
            <legend>Layers</legend>
            {!info ? <Skeleton height="3rem" /> : null}
            {info && ready.length === 0 ? <p className="muted">No layer has stored vectors yet.</p> : null}
            <div style={{ display: 'grid', gridTemplateColumns: 'repeat(3, 1fr)', gap: '0.2rem 0.5rem' }}>
              {ready.map((name) => (
                <label key={name}>
                  <input
                    type="checkbox"
                    checked={layers.has(name)}
                    onChange={() => {
                      const next = new Set(layers);
                      if (next.has(name)) next.delete(name);
                      else next.add(name);
                      setChosen(next);
                    }}
                  />
                  {name}
                </label>
              ))}
            </div>
          </fieldset>
          <div className="row" style={{ marginTop: '0.75rem' }}>
            <label>
              Neighbours
              <input type="number" min={1} max={100} value={k} onChange={(event) => setK(Math.max(1, Math.min(100, Number(event.target.value) || 1)))} style={{ width: '5rem' }} />
            </label>
            <button type="button" className="primary" disabled={!file || !!phase} onClick={() => file && void search(file, [...layers])}>
              Search again
            </button>
          </div>
        </aside>
      </div>
    </>
  );
}
