'use client';

import Link from 'next/link';
import { useCallback, useEffect, useRef, useState } from 'react';
import { gql, describeError, thumbnailUrl } from '../api/client';
import { CANCEL_RUN, DATASET, DATASET_RUNS, IMAGES, LAYERS, START_EXTRACTION } from '../api/queries';
import type { Dataset, DatasetLayer, ImagePage, Layer, Run } from '../api/types';
import { useApi } from '../hooks/useApi';
import { EmptyState, ErrorState, formatDate, formatNumber, isActive, RunProgress, Skeleton, StatusBadge } from './common';
import { DatasetNav } from './DatasetNav';
import { ImagePanel } from './ImagePanel';

const PAGE = 48;

type DatasetResult = { dataset: Dataset & { runs: Run[] } | null };
type RunsResult = { dataset: { id: string; storedImages: number; layers: DatasetLayer[]; runs: Run[] } | null };

export function DatasetPage({ id }: { id: string }) {
  const dataset = useApi<DatasetResult>(DATASET, { id });
  // Jobs and layer states are polled while anything is running.
  const live = useApi<RunsResult>(DATASET_RUNS, { id }, {
    pollMs: 2000,
    poll: (data) => !!data.dataset && (data.dataset.runs.some(isActive) || data.dataset.layers.some((layer) => layer.status !== 'READY' && layer.status !== 'FAILED')),
  });
  const reloadAll = () => {
    dataset.reload();
    live.reload();
  };
  if (dataset.error && !dataset.data) return <ErrorState error={dataset.error} onRetry={dataset.reload} title="The dataset could not be loaded" />;
  if (dataset.data && !dataset.data.dataset) {
    return (
      <EmptyState title="No such dataset">
        <span>It does not exist, or it is private to someone else.</span>
        <Link href="/datasets">All datasets</Link>
      </EmptyState>
    );
  }
  const info = dataset.data?.dataset ?? null;
  const layers = live.data?.dataset?.layers ?? info?.layers ?? [];
  const runs = live.data?.dataset?.runs ?? info?.runs ?? [];
  const ready = layers.filter((layer) => layer.status === 'READY').map((layer) => layer.name);
  return (
    <>
      <DatasetNav id={id} name={info?.name ?? null} />
      <div className="layout-2col">
        <div>
          <section aria-labelledby="about" className="panel">
            <h2 id="about" style={{ marginTop: 0 }}>
              About
            </h2>
            {/* The labels are there from the start: values fill in without moving anything. */}
            <dl className="meta" aria-busy={!info}>
              <dt>Source</dt>
              <dd>{info ? (info.sourceKind === 'HDF5' ? `HDF5 brick, dataset ${info.hdf5Dataset ?? 'imgBrick'}` : 'folder of images') : <Skeleton inline width="14rem" label="Loading the dataset" />}</dd>
              <dt>Images</dt>
              <dd>{info ? `${formatNumber(live.data?.dataset?.storedImages ?? info.storedImages)} stored of ${formatNumber(info.imageCount)}` : <Skeleton inline width="9rem" />}</dd>
              <dt>Model</dt>
              <dd>
                {info ? (
                  <>
                    {info.model.name} <span className="muted mono small">{info.model.sha256.slice(0, 12)}</span>
                  </>
                ) : (
                  <Skeleton inline width="12rem" />
                )}
              </dd>
              <dt>Owner</dt>
              <dd>{info ? (info.owner ?? 'lab (made on the server)') : <Skeleton inline width="8rem" />}</dd>
              <dt>Visibility</dt>
              <dd>{info ? (info.visibility === 'LAB' ? 'shared with the lab' : 'private') : <Skeleton inline width="8rem" />}</dd>
              <dt>Created</dt>
              <dd>{info ? formatDate(info.createdAt) : <Skeleton inline width="10rem" />}</dd>
            </dl>
          </section>
          {/* Below the fold of what is known: shown once the dataset is, sized from it. */}
          {info ? (
            <>
              <LayersTable datasetId={id} layers={layers} loading={false} />
              <ImageGrid datasetId={id} layers={ready} expected={live.data?.dataset?.storedImages ?? info.storedImages} />
            </>
          ) : null}
        </div>
        <div>
          <ExtractionForm datasetId={id} existing={layers} known={!!info} onStarted={reloadAll} />
          <RunsPanel runs={runs} loading={!info} onChange={reloadAll} />
        </div>
      </div>
    </>
  );
}

function LayersTable({ datasetId, layers, loading }: { datasetId: string; layers: readonly DatasetLayer[]; loading: boolean }) {
  return (
    <section aria-labelledby="layers-title">
      <h2 id="layers-title">Layers</h2>
      {loading ? (
        <Skeleton height="6rem" />
      ) : layers.length === 0 ? (
        <EmptyState title="No layers extracted yet">
          <span>Start an extraction (on the right) to store layer vectors; maps and neighbours need them.</span>
        </EmptyState>
      ) : (
        <table className="data" data-testid="layers-table">
          <thead>
            <tr>
              <th scope="col">Layer</th>
              <th scope="col">Status</th>
              <th scope="col" className="num">
                Vectors
              </th>
              <th scope="col" className="num">
                PCA size
              </th>
              <th scope="col" className="num">
                Variance kept
              </th>
              <th scope="col">
                <span className="visually-hidden">Actions</span>
              </th>
            </tr>
          </thead>
          <tbody>
            {layers.map((layer) => (
              <tr key={layer.name}>
                <th scope="row">{layer.name}</th>
                <td>
                  <StatusBadge status={layer.status} />
                </td>
                <td className="num">{formatNumber(layer.vectorCount)}</td>
                <td className="num">{formatNumber(layer.components)}</td>
                <td className="num">{layer.explainedVariance === null ? '–' : `${formatNumber(layer.explainedVariance * 100, 1)} %`}</td>
                <td>
                  {layer.status === 'READY' ? (
                    <Link href={`/datasets/${datasetId}/map?layer=${encodeURIComponent(layer.name)}`} aria-label={`Map of ${layer.name}`}>
                      Map
                    </Link>
                  ) : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

function RunsPanel({ runs, loading, onChange }: { runs: readonly Run[]; loading: boolean; onChange: () => void }) {
  const [error, setError] = useState<unknown>(null);
  const cancel = async (run: Run) => {
    setError(null);
    try {
      await gql(CANCEL_RUN, { id: run.id });
      onChange();
    } catch (caught) {
      setError(caught);
    }
  };
  return (
    <section aria-labelledby="runs-title" className="panel" style={{ marginTop: '1rem' }}>
      <h2 id="runs-title" style={{ marginTop: 0 }}>
        Jobs
      </h2>
      {error ? <p className="error-text" role="alert">{describeError(error)}</p> : null}
      {loading ? (
        <Skeleton height="5rem" />
      ) : runs.length === 0 ? (
        <p className="muted">No jobs yet.</p>
      ) : (
        <ul style={{ listStyle: 'none', margin: 0, padding: 0, display: 'grid', gap: '0.75rem' }} data-testid="runs" aria-live="polite">
          {runs.map((run) => (
            <li key={run.id} style={{ borderBottom: '1px solid var(--border)', paddingBottom: '0.6rem' }}>
              <div className="row" style={{ justifyContent: 'space-between' }}>
                <span>
                  <strong>{run.kind.toLowerCase().replace('_', ' ')}</strong> <span className="muted small">#{run.id} · {run.owner} · {formatDate(run.createdAt)}</span>
                </span>
                {isActive(run) && !run.cancelRequested ? (
                  <button type="button" className="danger" onClick={() => void cancel(run)} aria-label={`Cancel job ${run.id}`}>
                    Cancel
                  </button>
                ) : null}
              </div>
              <div style={{ minHeight: '2.4rem', marginTop: 4 }}>
                <RunProgress run={run} />
              </div>
              {runSummary(run) ? <div className="small muted">{runSummary(run)}</div> : null}
              {run.errors.length > 0 ? (
                <details className="small">
                  <summary>{run.errors.length} image(s) skipped</summary>
                  <ul>
                    {run.errors.slice(0, 20).map((e, i) => (
                      <li key={i}>
                        {e.sourceId ?? e.index ?? '?'}: {e.message}
                      </li>
                    ))}
                  </ul>
                </details>
              ) : null}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

function runSummary(run: Run): string {
  const params = (run.params ?? {}) as Record<string, unknown>;
  const parts: string[] = [];
  if (Array.isArray(params.layers)) parts.push(`layers ${params.layers.join(', ')}`);
  if (typeof params.layer === 'string') parts.push(`layer ${params.layer}`);
  if (typeof params.layerA === 'string' && typeof params.layerB === 'string') parts.push(`${params.layerA} vs ${params.layerB}`);
  if (typeof params.pcaComponents === 'number') parts.push(`PCA ${params.pcaComponents}`);
  if (typeof params.perplexity === 'number') parts.push(`perplexity ${params.perplexity}`);
  return parts.join(' · ');
}

function ExtractionForm({ datasetId, existing, known, onStarted }: { datasetId: string; existing: readonly DatasetLayer[]; known: boolean; onStarted: () => void }) {
  const catalog = useApi<{ layers: Layer[] }>(LAYERS, {});
  const [chosen, setChosen] = useState<Set<string>>(new Set());
  const [components, setComponents] = useState('256');
  const [sampleSize, setSampleSize] = useState('5000');
  const [batchSize, setBatchSize] = useState('8');
  const [busy, setBusy] = useState(false);
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string } | null>(null);
  const initialised = useRef(false);
  const have = new Set(existing.map((layer) => layer.name));
  // Suggest pool1 and pool5 (the classic pair) unless the dataset has them already.
  useEffect(() => {
    if (initialised.current || !catalog.data || !known) return;
    initialised.current = true;
    setChosen(new Set(['pool1', 'pool5'].filter((name) => !have.has(name))));
  }, [catalog.data, known]); // eslint-disable-line react-hooks/exhaustive-deps
  const toggle = useCallback((name: string) => {
    setChosen((previous) => {
      const next = new Set(previous);
      if (next.has(name)) next.delete(name);
      else next.add(name);
      return next;
    });
  }, []);
  const submit = async (event: React.FormEvent) => {
    event.preventDefault();
    const pca = Number(components);
    if (!Number.isInteger(pca) || pca < 1 || pca > 2000) {
      setMessage({ kind: 'error', text: `PCA size must be a whole number from 1 to 2000, got "${components}"` });
      return;
    }
    if (chosen.size === 0) {
      setMessage({ kind: 'error', text: 'Choose at least one layer' });
      return;
    }
    setBusy(true);
    setMessage(null);
    try {
      const order = (catalog.data?.layers ?? []).map((layer) => layer.name);
      const layers = [...chosen].sort((a, b) => order.indexOf(a) - order.indexOf(b));
      const result = await gql<{ startExtraction: Run }>(START_EXTRACTION, { datasetId, layers, pcaComponents: pca, sampleSize: Number(sampleSize), batchSize: Number(batchSize) });
      setMessage({ kind: 'ok', text: `Extraction job #${result.startExtraction.id} started for ${layers.join(', ')}` });
      onStarted();
    } catch (caught) {
      setMessage({ kind: 'error', text: describeError(caught) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section aria-labelledby="extract-title" className="panel">
      <h2 id="extract-title" style={{ marginTop: 0 }}>
        Extract layers
      </h2>
      <form onSubmit={submit} style={{ display: 'grid', gap: '0.75rem' }} data-testid="extraction-form">
        <fieldset>
          <legend>Layers</legend>
          {catalog.error ? <ErrorState error={catalog.error} onRetry={catalog.reload} /> : null}
          {!catalog.data ? (
            <div className="layer-checks">
              <Skeleton height="100%" />
            </div>
          ) : (
            <div className="layer-checks">
              {catalog.data.layers.map((layer) => (
                <label key={layer.name} title={`${layer.shape.join(' × ')} = ${formatNumber(layer.dimension)} values`}>
                  <input type="checkbox" checked={chosen.has(layer.name)} onChange={() => toggle(layer.name)} />
                  {layer.name}
                  {have.has(layer.name) ? <span className="muted small">(have)</span> : null}
                </label>
              ))}
            </div>
          )}
        </fieldset>
        <div className="row">
          <label>
            PCA size
            <input type="number" min={1} max={2000} value={components} onChange={(event) => setComponents(event.target.value)} style={{ width: '6rem' }} aria-describedby="pca-help" />
          </label>
          <label>
            Sample
            <input type="number" min={1} value={sampleSize} onChange={(event) => setSampleSize(event.target.value)} style={{ width: '6rem' }} />
          </label>
          <label>
            Batch
            <input type="number" min={1} max={256} value={batchSize} onChange={(event) => setBatchSize(event.target.value)} style={{ width: '4.5rem' }} />
          </label>
        </div>
        <p id="pca-help" className="small muted" style={{ margin: 0 }}>
          PCA size is the stored vector length per image (at most 2000); the PCA is fitted on a seeded sample of that many images.
        </p>
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {busy ? 'Starting…' : 'Start extraction'}
          </button>
        </div>
        <p role="status" className={message?.kind === 'error' ? 'error-text' : 'small'} style={{ margin: 0, minHeight: '1.4em' }}>
          {message?.text ?? ''}
        </p>
      </form>
    </section>
  );
}

function ImageGrid({ datasetId, layers, expected }: { datasetId: string; layers: readonly string[]; expected: number }) {
  const [offset, setOffset] = useState(0);
  const [open, setOpen] = useState<string | null>(null);
  const dialog = useRef<HTMLDialogElement>(null);
  const page = useApi<{ images: ImagePage }>(IMAGES, { datasetId, offset, limit: PAGE });
  const total = page.data?.images.total ?? 0;
  // An extraction stores images as it reads them: show them as they come.
  const { reload } = page;
  useEffect(() => {
    if (expected !== total) reload();
  }, [expected]); // eslint-disable-line react-hooks/exhaustive-deps
  useEffect(() => {
    if (open) dialog.current?.showModal();
    else dialog.current?.close();
  }, [open]);
  return (
    <section aria-labelledby="images-title">
      <div className="row" style={{ justifyContent: 'space-between', marginTop: '1.5rem' }}>
        <h2 id="images-title" style={{ margin: 0 }}>
          Images
        </h2>
        <div className="row">
          <span className="small muted" aria-live="polite">
            {total > 0 ? `${formatNumber(offset + 1)}–${formatNumber(Math.min(total, offset + PAGE))} of ${formatNumber(total)}` : '\u00a0'}
          </span>
          <button type="button" onClick={() => setOffset(Math.max(0, offset - PAGE))} disabled={offset === 0}>
            Previous
          </button>
          <button type="button" onClick={() => setOffset(offset + PAGE)} disabled={offset + PAGE >= total}>
            Next
          </button>
        </div>
      </div>
      {page.error ? <ErrorState error={page.error} onRetry={page.reload} title="The images could not be loaded" /> : null}
      <div className="image-grid" style={{ marginTop: '0.6rem' }} data-testid="image-grid" aria-busy={page.loading}>
        {page.data && !page.loading
          ? page.data.images.items.map((image) => (
              <button key={image.id} type="button" className="cell" onClick={() => setOpen(image.id)} aria-label={`Image ${image.index} (${image.sourceId}): open with its neighbours`}>
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img src={thumbnailUrl(image.id)} alt="" loading="lazy" width={128} height={128} />
                <span className="caption">{image.sourceId}</span>
              </button>
            ))
          : Array.from({ length: Math.max(0, Math.min(PAGE, (total || expected) - offset)) }, (_, i) => <div key={i} className="cell skeleton" />)}
      </div>
      {page.data && page.data.images.total === 0 ? <EmptyState title="No images stored yet">They appear once an extraction has read them.</EmptyState> : null}
      <dialog ref={dialog} onClose={() => setOpen(null)} aria-labelledby="grid-image-title" style={{ width: 'min(560px, 95vw)', border: '1px solid var(--border)', borderRadius: 10, background: 'var(--panel)', color: 'var(--fg)' }}>
        {open ? <ImagePanel imageId={open} layers={layers} onOpen={setOpen} onClose={() => setOpen(null)} headingId="grid-image-title" /> : null}
      </dialog>
    </section>
  );
}
