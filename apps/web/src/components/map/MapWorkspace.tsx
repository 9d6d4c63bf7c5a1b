'use client';

import Link from 'next/link';
import { useRouter } from 'next/navigation';
import { useCallback, useEffect, useMemo, useRef, useState } from 'react';
import { describeError, imageUrl, proxied, thumbnailUrl } from '../../api/client';
import { DATASET_BRIEF } from '../../api/queries';
import type { Dataset } from '../../api/types';
import { useApi } from '../../hooks/useApi';
import { coordinatesCsv, fileSafe, saveBlob } from '../../viewer/export';
import type { MapData } from '../../viewer/map-data';
import { MosaicRenderer, type PaneStatus } from '../../viewer/mosaic-renderer';
import { Viewport } from '../../viewer/viewport';
import { isCancelled, MapWorkerClient } from '../../viewer/worker/client';
import { EmptyState, ErrorState, formatNumber, ProgressBar, RunProgress, Skeleton } from '../common';
import { DatasetNav } from '../DatasetNav';
import { ImagePanel } from '../ImagePanel';
import { LayerHeatmap } from './LayerHeatmap';
import { MapPaneOverlay, type PaneHandlers } from './MapPaneOverlay';
import { defaultPerplexity, useMapSource, type MapSource } from './useMapSource';

type PaneId = 'a' | 'b';

export interface MapWorkspaceProps {
  readonly datasetId: string;
  readonly mode: 'single' | 'compare';
  readonly initialLayers: readonly (string | null)[];
  readonly initialPerplexity: number | null;
  readonly seed: number;
}

interface Selection {
  readonly mask: Uint8Array;
  readonly count: number;
}

function cssColor(name: string, fallback: string): string {
  if (typeof window === 'undefined') return fallback;
  return getComputedStyle(document.documentElement).getPropertyValue(name).trim() || fallback;
}

function rgba(color: string): [number, number, number, number] {
  const hex = /^#([0-9a-f]{6})$/i.exec(color);
  if (!hex) return [128, 128, 128, 255];
  const n = parseInt(hex[1] as string, 16);
  return [(n >> 16) & 255, (n >> 8) & 255, n & 255, 255];
}

function themeColors(): { highlight: [number, number, number, number]; background: [number, number, number, number] } {
  return { highlight: rgba(cssColor('--highlight', '#f59e0b')), background: rgba(cssColor('--map-bg', '#e6e3de')) };
}

const STAGE_LABEL: Record<string, string> = { coordinates: 'coordinates', 'image index': 'image index', atlas: 'thumbnail index', layout: 'layout' };
const LEVEL_LABEL: Record<string, string> = { overview: '8 px overview', base: '32 px thumbnails', fine: '128 px thumbnails' };

export function MapWorkspace({ datasetId, mode, initialLayers, initialPerplexity, seed }: MapWorkspaceProps) {
  const router = useRouter();
  const dataset = useApi<{ dataset: Dataset | null }>(DATASET_BRIEF, { id: datasetId });
  const info = dataset.data?.dataset ?? null;
  const ready = useMemo(() => (info?.layers ?? []).filter((layer) => layer.status === 'READY').map((layer) => layer.name), [info]);
  const paneIds: PaneId[] = mode === 'compare' ? ['a', 'b'] : ['a'];

  // Layers: from the URL, else pool1 | pool5 (or the shallowest | deepest ready layers).
  const [layers, setLayers] = useState<(string | null)[]>([...initialLayers]);
  useEffect(() => {
    if (!info) return;
    setLayers((current) => {
      const pick = (wanted: string | null | undefined, preferred: string, fallback: string | undefined) => (wanted && ready.includes(wanted) ? wanted : ready.includes(preferred) ? preferred : (fallback ?? null));
      if (mode === 'compare') return [pick(current[0], 'pool1', ready[0]), pick(current[1], 'pool5', ready[ready.length - 1])];
      return [pick(current[0], 'pool5', ready[ready.length - 1])];
    });
  }, [info, ready, mode]);
  const perplexity = initialPerplexity ?? (info ? defaultPerplexity(info.storedImages) : null);

  useEffect(() => {
    if (!info || perplexity === null) return;
    const params = new URLSearchParams();
    if (mode === 'compare') {
      if (layers[0]) params.set('a', layers[0]);
      if (layers[1]) params.set('b', layers[1]);
    } else if (layers[0]) {
      params.set('layer', layers[0]);
    }
    if (initialPerplexity !== null) params.set('perplexity', String(initialPerplexity));
    if (seed !== 0) params.set('seed', String(seed));
    const query = params.toString();
    if (`?${query}` !== window.location.search) router.replace(`${window.location.pathname}?${query}`, { scroll: false });
  }, [layers, info, mode, perplexity, initialPerplexity, seed, router]);

  // The worker and the renderer live as long as the page.
  const [worker, setWorker] = useState<MapWorkerClient | null>(null);
  const [renderer, setRenderer] = useState<MosaicRenderer | null>(null);
  const stage = useRef<HTMLDivElement>(null);
  const [statuses, setStatuses] = useState<Record<string, PaneStatus>>({});
  const [overview, setOverview] = useState<{ loaded: number; total: number } | null>(null);
  const [viewError, setViewError] = useState<string | null>(null);
  useEffect(() => {
    const client = new MapWorkerClient();
    setWorker(client);
    return () => client.dispose();
  }, []);
  useEffect(() => {
    if (!worker || !stage.current) return undefined;
    let created: MosaicRenderer;
    try {
      created = new MosaicRenderer(stage.current, worker, {
        onStatus: (paneId, status) => setStatuses((previous) => ({ ...previous, [paneId]: status })),
        onOverviewProgress: (loaded, total) => setOverview({ loaded, total }),
        onError: (message) => setViewError(message),
      });
    } catch (error) {
      setViewError(`the map cannot be drawn: ${describeError(error)} (WebGL 2 is needed)`);
      return undefined;
    }
    created.setColors(themeColors());
    setRenderer(created);
    (window as unknown as { __strataRenderer?: MosaicRenderer }).__strataRenderer = created;
    return () => {
      created.dispose();
      setRenderer(null);
    };
  }, [worker]);
  useEffect(() => {
    const update = () => renderer?.setColors(themeColors());
    const media = window.matchMedia('(prefers-color-scheme: dark)');
    window.addEventListener('strata-theme', update);
    media.addEventListener('change', update);
    return () => {
      window.removeEventListener('strata-theme', update);
      media.removeEventListener('change', update);
    };
  }, [renderer]);

  // Pane elements tell the renderer where each view is.
  const elements = useRef(new Map<string, HTMLDivElement>());
  const onElement = useCallback(
    (paneId: string, element: HTMLDivElement | null) => {
      if (element) elements.current.set(paneId, element);
      else elements.current.delete(paneId);
    },
    [],
  );
  useEffect(() => {
    renderer?.setPanes(paneIds.filter((id) => elements.current.has(id)).map((id) => ({ id, element: elements.current.get(id) as HTMLDivElement })));
  }, [renderer, mode]); // eslint-disable-line react-hooks/exhaustive-deps

  // Maps: loaded by the worker; the right one aligned onto the left by Procrustes.
  const sourceA = useMapSource(worker, datasetId, perplexity === null ? null : (layers[0] ?? null), perplexity ?? 30, seed, ready);
  const sourceB = useMapSource(worker, datasetId, mode === 'compare' && perplexity !== null ? (layers[1] ?? null) : null, perplexity ?? 30, seed, ready);
  const [alignedB, setAlignedB] = useState<MapData | null>(null);
  const [alignError, setAlignError] = useState<string | null>(null);
  useEffect(() => {
    setAlignedB(null);
    setAlignError(null);
    if (!worker || !sourceA.data || !sourceB.data) return undefined;
    const abort = new AbortController();
    worker
      .align(sourceA.data.key, sourceB.data.key, { signal: abort.signal })
      .then(setAlignedB)
      .catch((error: unknown) => {
        if (!isCancelled(error)) setAlignError(describeError(error));
      });
    return () => abort.abort();
  }, [worker, sourceA.data, sourceB.data]);
  const shown: Record<PaneId, MapData | null> = { a: sourceA.data, b: mode === 'compare' ? alignedB : null };
  useEffect(() => {
    if (!renderer) return;
    renderer.setMap('a', shown.a);
    if (mode === 'compare') renderer.setMap('b', shown.b);
  }, [renderer, shown.a, shown.b, mode]); // eslint-disable-line react-hooks/exhaustive-deps

  // Linked selection (by dataset position, so it carries across maps of the same images).
  const [selection, setSelection] = useState<Selection | null>(null);
  const [lassoMode, setLassoMode] = useState(false);
  const [linkViews, setLinkViews] = useState(mode === 'compare');
  const [tileScale, setTileScale] = useState(1);
  useEffect(() => renderer?.setSelection(selection?.mask ?? null), [renderer, selection]);
  useEffect(() => renderer?.setTileScale(tileScale), [renderer, tileScale]);
  const selectedIn = (data: MapData | null): number => {
    if (!selection || !data) return 0;
    let count = 0;
    for (let p = 0; p < data.count; p++) {
      const image = data.sourceIndex[p] as number;
      if (image >= 0 && selection.mask[image]) count += 1;
    }
    return count;
  };

  const [hover, setHover] = useState<{ paneId: PaneId; point: number; at: { x: number; y: number } } | null>(null);
  const [opened, setOpened] = useState<{ imageId: string; layer: string | null } | null>(null);

  const handlers: PaneHandlers = {
    onHover: (paneId, point, at) => {
      renderer?.setHighlight(paneId, point);
      setHover(point >= 0 && at ? { paneId: paneId as PaneId, point, at } : null);
    },
    onOpen: (paneId, point) => {
      const data = shown[paneId as PaneId];
      if (!data) return;
      const imageId = data.imageIds[point];
      if (imageId === undefined) return;
      setOpened({ imageId: String(imageId), layer: layers[paneId === 'a' ? 0 : 1] ?? null });
    },
    onLasso: (paneId, points, additive) => {
      const data = shown[paneId as PaneId];
      if (!data) return;
      let size = 0;
      for (const id of paneIds) {
        const d = shown[id];
        if (d) for (let p = 0; p < d.count; p++) size = Math.max(size, (d.sourceIndex[p] as number) + 1);
      }
      const mask = additive && selection && selection.mask.length >= size ? selection.mask.slice() : new Uint8Array(size);
      for (const p of points) {
        const image = data.sourceIndex[p] as number;
        if (image >= 0) mask[image] = 1;
      }
      let count = 0;
      for (const v of mask) count += v;
      setSelection(count > 0 ? { mask, count } : null);
      setLassoMode(false);
    },
    onViewport: (paneId, viewport) => {
      if (!renderer) return;
      renderer.setViewport(paneId, viewport);
      if (linkViews) {
        for (const other of paneIds) {
          if (other === paneId) continue;
          const current = renderer.getViewport(other);
          if (current) renderer.setViewport(other, new Viewport({ ...viewport.props(), width: current.width, height: current.height }));
        }
      }
    },
    onClear: () => {
      setSelection(null);
      setOpened(null);
    },
    onToggleLasso: () => setLassoMode((on) => !on),
  };

  const exportPng = async (paneId: PaneId) => {
    if (!renderer) return;
    try {
      const blob = await renderer.exportPng(paneId, cssColor('--map-bg', '#ffffff'));
      saveBlob(blob, `${fileSafe(info?.name ?? 'dataset')}-${fileSafe(layers[paneId === 'a' ? 0 : 1] ?? 'map')}-view.png`);
    } catch (error) {
      setViewError(`export: ${describeError(error)}`);
    }
  };
  const exportCsv = (paneId: PaneId) => {
    const data = shown[paneId];
    if (!data) return;
    saveBlob(new Blob([coordinatesCsv(data)], { type: 'text/csv' }), `${fileSafe(info?.name ?? 'dataset')}-${fileSafe(layers[paneId === 'a' ? 0 : 1] ?? 'map')}-tsne.csv`);
  };

  if (dataset.error && !info) return <ErrorState error={dataset.error} onRetry={dataset.reload} title="The dataset could not be loaded" />;
  if (dataset.data && !info) {
    return (
      <EmptyState title="No such dataset">
        <Link href="/datasets">All datasets</Link>
      </EmptyState>
    );
  }
  const sources: Record<PaneId, MapSource> = { a: sourceA, b: sourceB };
  const setLayer = (index: number, name: string) => {
    setLayers((current) => {
      const next = [...current];
      next[index] = name;
      return next;
    });
    setOpened(null);
  };
  const hoveredData = hover ? shown[hover.paneId] : null;
  const hoveredId = hover && hoveredData ? hoveredData.imageIds[hover.point] : undefined;
  const sideOpen = mode === 'compare' || opened !== null;
  const stageWidth = stage.current?.clientWidth ?? 0;

  return (
    <>
      <DatasetNav id={datasetId} name={info?.name ?? null} />
      <div className={`workspace${sideOpen ? ' with-side' : ''}`}>
        <div className="toolbar" role="toolbar" aria-label="Map tools">
          <button type="button" aria-pressed={lassoMode} onClick={() => setLassoMode(!lassoMode)} title="Draw around images to select them (or Shift-drag)">
            Lasso select
          </button>
          <button type="button" onClick={() => setSelection(null)} disabled={!selection}>
            Clear selection
          </button>
          <span className="small" aria-live="polite" data-testid="selection-count" style={{ minWidth: '9rem' }}>
            {selection ? `${formatNumber(selection.count)} selected` : 'nothing selected'}
          </span>
          {mode === 'compare' ? (
            <label className="small">
              <input type="checkbox" checked={linkViews} onChange={(event) => setLinkViews(event.target.checked)} /> Link pan and zoom
            </label>
          ) : null}
          <label className="small">
            Thumbnail size
            <input type="range" min={0.4} max={3} step={0.1} value={tileScale} onChange={(event) => setTileScale(Number(event.target.value))} aria-valuetext={`${tileScale.toFixed(1)} times`} />
          </label>
          <button
            type="button"
            onClick={() => {
              for (const id of paneIds) renderer?.fit(id);
            }}
          >
            Fit
          </button>
          <details className="export-menu" style={{ position: 'relative' }}>
            <summary className="button">Export</summary>
            <div className="panel" style={{ position: 'absolute', zIndex: 20, right: 0, minWidth: '17rem', display: 'grid', gap: 6 }}>
              {paneIds.map((id, index) => {
                const source = sources[id];
                const layer = layers[index] ?? 'map';
                return (
                  <div key={id} style={{ display: 'grid', gap: 4 }}>
                    <strong className="small">{layer}</strong>
                    <button type="button" onClick={() => void exportPng(id)} disabled={!shown[id]} data-testid={`export-png-${id}`}>
                      Current view (PNG)
                    </button>
                    {source.info?.mosaicUrl ? (
                      <a className="button" href={proxied(source.info.mosaicUrl)} download={`${fileSafe(info?.name ?? 'dataset')}-${fileSafe(layer)}-mosaic.png`} data-testid={`export-mosaic-${id}`}>
                        Mosaic 4000 × 3000 (PNG)
                      </a>
                    ) : (
                      <button type="button" disabled title="This map was computed without its mosaic">
                        Mosaic (not rendered)
                      </button>
                    )}
                    <button type="button" onClick={() => exportCsv(id)} disabled={!shown[id]} data-testid={`export-csv-${id}`}>
                      Coordinates (CSV)
                    </button>
                  </div>
                );
              })}
            </div>
          </details>
          <span className="grow" />
          <span className="small muted" style={{ minWidth: '12rem', textAlign: 'right' }} aria-live="polite" data-testid="overview-progress">
            {overview && overview.total > 0 && overview.loaded < overview.total ? `thumbnails ${overview.loaded} / ${overview.total} sheets` : perplexity !== null ? `perplexity ${perplexity} · seed ${seed}` : '\u00a0'}
          </span>
        </div>
        <div className="map-stage" ref={stage} data-testid="map-stage">
          <div className="map-panes">
            {paneIds.map((id, index) => (
              <MapPaneOverlay key={id} paneId={id} label={`${layers[index] ?? 'No layer'} map${mode === 'compare' ? (index === 0 ? ', left' : ', right, aligned to the left') : ''}`} renderer={renderer} lassoMode={lassoMode} handlers={handlers} onElement={onElement}>
                <div className="pane-label">
                  <label>
                    <span className={mode === 'compare' ? 'visually-hidden' : 'small'}>{mode === 'compare' ? (index === 0 ? 'Left layer' : 'Right layer') : 'Layer'}</span>
                    <select value={layers[index] ?? ''} onChange={(event) => setLayer(index, event.target.value)} aria-label={mode === 'compare' ? (index === 0 ? 'Left layer' : 'Right layer') : 'Layer'} data-testid={`layer-${id}`}>
                      {layers[index] && !ready.includes(layers[index] as string) ? <option value={layers[index] as string}>{layers[index]}</option> : null}
                      {ready.map((name) => (
                        <option key={name} value={name}>
                          {name}
                        </option>
                      ))}
                    </select>
                  </label>
                  {id === 'b' && alignedB?.disparity !== null && alignedB?.disparity !== undefined ? (
                    <span className="small muted" title="Procrustes disparity after aligning onto the left map (0 = same shape)">
                      disparity {alignedB.disparity.toFixed(3)}
                    </span>
                  ) : null}
                </div>
                <PaneMessage source={sources[id]} layer={layers[index] ?? null} hasLayers={ready.length > 0} loadingDataset={!info} datasetId={datasetId} aligning={id === 'b' && !!sourceB.data && !alignedB} alignError={id === 'b' ? alignError : null} />
                <div className="pane-status" data-testid={`status-${id}`} aria-live="off">
                  {shown[id]
                    ? `${formatNumber(shown[id]?.count)} images · ${LEVEL_LABEL[statuses[id]?.level ?? 'overview']}${statuses[id] && statuses[id].level !== 'overview' ? ` (${statuses[id].sharp}/${statuses[id].visible} sharp)` : ''}${selection ? ` · ${formatNumber(selectedIn(shown[id]))} selected here` : ''}`
                    : '\u00a0'}
                </div>
              </MapPaneOverlay>
            ))}
          </div>
          {hover && hoveredId !== undefined ? (
            <div className="hover-card" style={{ left: Math.min(hover.at.x + 18, Math.max(0, stageWidth - 220)), top: Math.max(4, hover.at.y - 100) }} data-testid="hover-card">
              <HoverImage imageId={hoveredId} />
              <div className="caption">
                #{hoveredData?.sourceIndex[hover.point]} · {hoveredData?.sourceIds[hover.point]}
              </div>
            </div>
          ) : null}
          {viewError ? (
            <div className="state error" role="alert" style={{ position: 'absolute', right: 8, bottom: 8, zIndex: 6, background: 'var(--panel)', padding: '0.6rem 0.8rem' }}>
              <span>{viewError}</span>
              <button type="button" onClick={() => setViewError(null)}>
                Dismiss
              </button>
            </div>
          ) : null}
        </div>
        {sideOpen ? (
          <aside className="side" aria-label="Details">
            {opened ? (
              <ImagePanel
                imageId={opened.imageId}
                layers={ready}
                {...(opened.layer ? { layer: opened.layer } : {})}
                onOpen={(imageId) => {
                  setOpened({ imageId, layer: opened.layer });
                  // Centre the maps on the neighbour when it is on them.
                  for (const id of paneIds) {
                    const data = shown[id];
                    if (!data || !renderer) continue;
                    const p = data.imageIds.indexOf(Number(imageId));
                    const viewport = renderer.getViewport(id);
                    if (p >= 0 && viewport) {
                      renderer.setViewport(id, viewport.centerOn(data.x[p] as number, data.y[p] as number));
                      renderer.setHighlight(id, p);
                    }
                  }
                }}
                onClose={() => setOpened(null)}
              />
            ) : null}
            {mode === 'compare' ? (
              <div style={{ marginTop: opened ? '1.5rem' : 0 }}>
                <LayerHeatmap datasetId={datasetId} pair={[layers[0] ?? null, layers[1] ?? null]} onPick={(a, b) => setLayers([a, b])} />
                <p className="small muted">
                  The right map is rotated, scaled and possibly mirrored onto the left (Procrustes over the shared images), so the same regions face the same way. A lasso in either map selects
                  the same images in both.
                </p>
              </div>
            ) : null}
          </aside>
        ) : null}
      </div>
    </>
  );
}

/** The hovered image, larger: its thumbnail at once, the full image once the pointer rests. */
function HoverImage({ imageId }: { imageId: number }) {
  const [full, setFull] = useState<number | null>(null);
  const [loaded, setLoaded] = useState<number | null>(null);
  useEffect(() => {
    const timer = setTimeout(() => setFull(imageId), 300);
    return () => clearTimeout(timer);
  }, [imageId]);
  return (
    <div className="frame">
      {/* eslint-disable-next-line @next/next/no-img-element */}
      <img src={thumbnailUrl(imageId)} alt="" style={{ display: loaded === imageId ? 'none' : undefined }} />
      {full === imageId ? (
        // eslint-disable-next-line @next/next/no-img-element
        <img src={imageUrl(imageId)} alt="" onLoad={() => setLoaded(imageId)} style={{ display: loaded === imageId ? undefined : 'none' }} />
      ) : null}
    </div>
  );
}

function PaneMessage({
  source,
  layer,
  hasLayers,
  loadingDataset,
  datasetId,
  aligning,
  alignError,
}: {
  source: MapSource;
  layer: string | null;
  hasLayers: boolean;
  loadingDataset: boolean;
  datasetId: string;
  aligning: boolean;
  alignError: string | null;
}) {
  let body: React.ReactNode = null;
  if (loadingDataset) {
    body = <Skeleton width="14rem" height="1.2rem" label="Loading the map" />;
  } else if (!hasLayers) {
    body = (
      <>
        <strong>No layer has stored vectors yet</strong>
        <span>
          Start an extraction on the <Link href={`/datasets/${datasetId}`}>dataset page</Link>; maps are computed from stored layers.
        </span>
      </>
    );
  } else if (!layer) {
    body = <span>Choose a layer.</span>;
  } else if (source.infoError && !source.info) {
    body = <ErrorState error={source.infoError} onRetry={source.reload} title="The map could not be loaded" />;
  } else if (!source.info) {
    body = <Skeleton width="14rem" height="1.2rem" label="Loading the map" />;
  } else if (source.info.status === 'NOT_COMPUTED') {
    body = (
      <>
        <strong>No t-SNE map of {layer} yet</strong>
        <span className="small muted">perplexity {source.info.perplexity}, seed {source.info.seed}; it is computed once and stored, with its mosaic and thumbnails</span>
        <button type="button" className="primary" onClick={source.compute} disabled={source.computing} data-testid="compute-map">
          {source.computing ? 'Starting…' : 'Compute map'}
        </button>
        {source.computeError ? (
          <span className="error-text" role="alert">
            {source.computeError}
          </span>
        ) : null}
      </>
    );
  } else if (source.info.status === 'QUEUED' || source.info.status === 'RUNNING') {
    body = (
      <>
        <strong>Computing the {layer} map</strong>
        {source.info.run ? <RunProgress run={source.info.run} /> : <ProgressBar value={NaN} max={0} label="map job" />}
      </>
    );
  } else if (source.info.status === 'FAILED') {
    body = (
      <>
        <strong className="error-text">The {layer} map failed</strong>
        <span className="small">{source.info.run?.error ?? 'no reason given'}</span>
        <button type="button" onClick={source.compute} disabled={source.computing}>
          Compute again
        </button>
      </>
    );
  } else if (source.loadError) {
    body = <ErrorState error={new Error(source.loadError)} onRetry={source.reload} title="The map could not be loaded" />;
  } else if (alignError) {
    body = <ErrorState error={new Error(alignError)} title="The maps could not be aligned" />;
  } else if (!source.data || aligning) {
    const progress = source.progress;
    body = (
      <>
        <strong>Loading the {layer} map</strong>
        <ProgressBar
          value={progress?.done ?? NaN}
          max={progress?.total ?? 0}
          label={`loading the ${layer} map`}
          detail={aligning ? 'aligning onto the left map' : progress ? `${STAGE_LABEL[progress.stage] ?? progress.stage} ${formatNumber(progress.done)} / ${formatNumber(progress.total)}` : 'asking the server'}
        />
      </>
    );
  } else if (source.data.count === 0) {
    body = <strong>This map has no points</strong>;
  }
  if (!body) return null;
  return (
    <div className="pane-message" role="status">
      <div>{body}</div>
    </div>
  );
}
