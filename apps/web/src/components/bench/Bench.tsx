'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import type { MapData } from '../../viewer/map-data';
import { MosaicRenderer, type PaneStatus } from '../../viewer/mosaic-renderer';
import { Viewport } from '../../viewer/viewport';
import { MapWorkerClient } from '../../viewer/worker/client';
import { MapPaneOverlay, type PaneHandlers } from '../map/MapPaneOverlay';

export interface FrameStats {
  readonly frames: number;
  readonly medianMs: number;
  readonly p95Ms: number;
  readonly maxMs: number;
}

export interface FrameBreakdown extends FrameStats {
  /** Medians of the parts: our JS (levels of detail, columns, layer diffing), issuing draw calls, waiting for the GPU. */
  readonly commitMs: number;
  readonly drawMs: number;
  readonly gpuMs: number;
}

export interface BenchResults {
  readonly points: number;
  readonly canvas: { width: number; height: number; devicePixelRatio: number };
  readonly loadMs: number;
  readonly overviewMs: number;
  /** Synchronous frames (commit + draw + GPU finish), per scenario. */
  readonly render: Record<string, FrameBreakdown>;
  /** Intervals between animation frames while zooming and panning continuously. */
  readonly animation: FrameStats & { fps: number };
  readonly renderer: string;
  /** The close-up view: level of detail, thumbnails on screen and how many were sharp when measured. */
  readonly closeUp: PaneStatus | null;
}

function stats(samples: number[]): FrameStats {
  const sorted = [...samples].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? NaN;
  const round = (v: number) => Math.round(v * 10) / 10;
  return { frames: samples.length, medianMs: round(at(0.5)), p95Ms: round(at(0.95)), maxMs: round(sorted[sorted.length - 1] ?? NaN) };
}

const nextFrame = () => new Promise<number>((resolve) => requestAnimationFrame(resolve));

type BenchWindow = Window & { __strataBench?: { state: string; results?: BenchResults; error?: string; run: () => Promise<BenchResults> } };

export function Bench() {
  const stage = useRef<HTMLDivElement>(null);
  const pane = useRef<HTMLDivElement | null>(null);
  const [renderer, setRenderer] = useState<MosaicRenderer | null>(null);
  const [state, setState] = useState('loading');
  const [results, setResults] = useState<BenchResults | null>(null);
  const [status, setStatus] = useState<PaneStatus | null>(null);
  const statusRef = useRef<PaneStatus | null>(null);
  const [overview, setOverview] = useState({ loaded: 0, total: 0 });
  const search = typeof window === 'undefined' ? new URLSearchParams() : new URLSearchParams(window.location.search);
  const n = Math.max(1, Math.min(500_000, Number(search.get('n')) || 73000));
  // Frames per scenario (the animation runs three times as many).
  const frames = Math.max(4, Math.min(200, Number(search.get('frames')) || 40));

  useEffect(() => {
    const worker = new MapWorkerClient();
    const created = new MosaicRenderer(stage.current as HTMLDivElement, worker, { onStatus: (_id, s) => {
        statusRef.current = s;
        setStatus(s);
      }, onOverviewProgress: (loaded, total) => setOverview({ loaded, total }) });
    created.setPanes([{ id: 'a', element: pane.current as HTMLDivElement }]);
    setRenderer(created);
    const w = window as BenchWindow;
    let data: MapData | null = null;
    const started = performance.now();
    let loadMs = 0;
    let overviewMs = 0;
    const ready = (async () => {
      data = await worker.synthMap(n, 7);
      loadMs = performance.now() - started;
      created.setMap('a', data);
      while (!created.ready || created.overviewProgress().total === 0 || created.overviewProgress().loaded < created.overviewProgress().total) await new Promise((r) => setTimeout(r, 50));
      overviewMs = performance.now() - started;
      setState('ready');
      if (w.__strataBench) w.__strataBench.state = 'ready';
    })();
    const run = async (): Promise<BenchResults> => {
      await ready;
      setState('running');
      if (w.__strataBench) w.__strataBench.state = 'running';
      created.fit('a');
      const fitted = created.getViewport('a') as Viewport;
      const render: Record<string, FrameBreakdown> = {};
      const median = (values: number[]) => Math.round(([...values].sort((a, b) => a - b)[Math.floor(values.length / 2)] ?? NaN) * 100) / 100;
      const measure = (count: number, step: (i: number) => Viewport): FrameBreakdown => {
        const total: number[] = [];
        const commit: number[] = [];
        const draw: number[] = [];
        const gpu: number[] = [];
        for (let i = 0; i < count; i++) {
          created.setViewport('a', step(i));
          const frame = created.renderNow();
          total.push(frame.totalMs);
          commit.push(frame.commitMs);
          draw.push(frame.drawMs);
          gpu.push(frame.gpuMs);
        }
        return { ...stats(total), commitMs: median(commit), drawMs: median(draw), gpuMs: median(gpu) };
      };
      // Whole map: all 73,000 thumbnails from the overview texture.
      render['whole map, panning'] = measure(frames, (i) => fitted.panBy(Math.sin(i / 6) * 40, Math.cos(i / 6) * 30));
      // Zooming in to 128 px thumbnails and back: every level of detail, textures arriving.
      const tile = created.tileSize('a');
      const deepScale = 160 / tile;
      const zoom = (t: number) => new Viewport({ ...fitted.props(), scale: fitted.scale * Math.pow(deepScale / fitted.scale, t) });
      render['zooming in and out'] = measure(2 * frames, (i) => zoom(i < frames ? i / (frames - 1) : (2 * frames - 1 - i) / (frames - 1)));
      // Close up: a few hundred 128 px thumbnails.
      const close = zoom(1);
      created.setViewport('a', close);
      const waitUntil = performance.now() + 30_000;
      while (performance.now() < waitUntil) {
        await new Promise((resolve) => setTimeout(resolve, 100));
        const now = statusRef.current;
        if (now?.level === 'fine' && now.sharp >= now.visible) break;
      }
      const closeUp = statusRef.current;
      render['close up, panning'] = measure(frames, (i) => close.panBy(i * 6, i * 3));
      // What a user sees: the browser's own frame loop while the view zooms continuously.
      const intervals: number[] = [];
      let last = await nextFrame();
      for (let i = 0; i < 3 * frames; i++) {
        const t = (Math.sin((i / (3 * frames)) * Math.PI * 2 - Math.PI / 2) + 1) / 2;
        created.setViewport('a', zoom(t * 0.8));
        const now = await nextFrame();
        intervals.push(now - last);
        last = now;
      }
      const animation = stats(intervals);
      const canvas = stage.current?.querySelector('canvas');
      const gl = canvas?.getContext('webgl2');
      const debug = gl?.getExtension('WEBGL_debug_renderer_info');
      const results: BenchResults = {
        points: n,
        canvas: { width: canvas?.width ?? 0, height: canvas?.height ?? 0, devicePixelRatio: window.devicePixelRatio },
        loadMs: Math.round(loadMs),
        overviewMs: Math.round(overviewMs),
        render,
        animation: { ...animation, fps: Math.round((1000 / (animation.medianMs || 1)) * 10) / 10 },
        renderer: (debug && gl ? String(gl.getParameter(debug.UNMASKED_RENDERER_WEBGL)) : 'unknown') || 'unknown',
        closeUp,
      };
      created.fit('a');
      setResults(results);
      setState('done');
      if (w.__strataBench) {
        w.__strataBench.state = 'done';
        w.__strataBench.results = results;
      }
      return results;
    };
    w.__strataBench = { state: 'loading', run };
    ready.catch((error: Error) => {
      setState(`failed: ${error.message}`);
      if (w.__strataBench) {
        w.__strataBench.state = 'failed';
        w.__strataBench.error = error.message;
      }
    });
    return () => {
      created.dispose();
      worker.dispose();
    };
  }, [n, frames]); // eslint-disable-line react-hooks/exhaustive-deps

  const onElement = useCallback((_id: string, element: HTMLDivElement | null) => {
    pane.current = element;
  }, []);
  const handlers: PaneHandlers = {
    onHover: (id, point) => renderer?.setHighlight(id, point),
    onOpen: () => undefined,
    onLasso: () => undefined,
    onViewport: (id, viewport) => renderer?.setViewport(id, viewport),
    onClear: () => undefined,
    onToggleLasso: () => undefined,
  };

  return (
    <>
      <div className="row" style={{ minHeight: 40 }}>
        <h1 style={{ margin: 0 }}>Viewer benchmark</h1>
        <span className="muted">
          {n.toLocaleString('en-US')} synthetic images · {state} · overview {overview.loaded}/{overview.total} sheets · {status ? `${status.level} ${status.sharp}/${status.visible}` : ''}
        </span>
        <button type="button" disabled={state !== 'ready' && state !== 'done'} onClick={() => void (window as BenchWindow).__strataBench?.run()}>
          Run
        </button>
      </div>
      <div className="workspace" style={{ flex: 'none', height: 'calc(100vh - 9rem)', gridTemplateRows: '1fr' }}>
        <div className="map-stage" ref={stage} style={{ gridColumn: '1 / -1' }} data-testid="map-stage">
          <div className="map-panes">
            <MapPaneOverlay paneId="a" label={`Synthetic map of ${n} images`} renderer={renderer} lassoMode={false} handlers={handlers} onElement={onElement} />
          </div>
        </div>
      </div>
      <pre data-testid="bench-results" style={{ whiteSpace: 'pre-wrap', minHeight: '3rem' }}>
        {results ? JSON.stringify(results, null, 2) : ''}
      </pre>
    </>
  );
}
