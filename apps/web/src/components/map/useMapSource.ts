'use client';

import { useCallback, useEffect, useState } from 'react';
import { describeError, gql } from '../../api/client';
import { COMPUTE_MAP, TSNE_MAP } from '../../api/queries';
import type { TsneMapInfo } from '../../api/types';
import { useApi } from '../../hooks/useApi';
import type { MapData } from '../../viewer/map-data';
import { isCancelled, type MapWorkerClient, type Progress } from '../../viewer/worker/client';
import { isActive } from '../common';

export interface MapSource {
  readonly info: TsneMapInfo | null;
  readonly infoError: unknown;
  readonly data: MapData | null;
  readonly progress: Progress | null;
  readonly loadError: string | null;
  readonly computeError: string | null;
  readonly computing: boolean;
  readonly compute: () => void;
  readonly reload: () => void;
}

/**
 * One map of a pane: its state on the server (polled while it is being computed), and once
 * READY its columns, loaded by the map worker.
 */
export function useMapSource(worker: MapWorkerClient | null, datasetId: string, layer: string | null, perplexity: number, seed: number, readyLayers: readonly string[] = []): MapSource {
  const info = useApi<{ tsneMap: TsneMapInfo }>(layer ? TSNE_MAP : null, { datasetId, layer, perplexity, seed }, {
    pollMs: 2000,
    poll: (result) => result.tsneMap.status === 'QUEUED' || result.tsneMap.status === 'RUNNING' || isActive(result.tsneMap.run),
  });
  const [data, setData] = useState<MapData | null>(null);
  const [progress, setProgress] = useState<Progress | null>(null);
  const [loadError, setLoadError] = useState<string | null>(null);
  const [computeError, setComputeError] = useState<string | null>(null);
  const [computing, setComputing] = useState(false);
  const [attempt, setAttempt] = useState(0);
  const status = info.data?.tsneMap.status;
  const mapId = info.data?.tsneMap.id ?? null;

  useEffect(() => {
    setData(null);
    setLoadError(null);
    setProgress(null);
    if (!worker || !layer || status !== 'READY') return undefined;
    const abort = new AbortController();
    worker
      .loadMap({ datasetId, layer, perplexity, seed }, { signal: abort.signal, onProgress: setProgress })
      .then((loaded) => {
        setData(loaded);
        setProgress(null);
      })
      .catch((error: unknown) => {
        if (!isCancelled(error)) setLoadError(describeError(error));
      });
    return () => abort.abort();
  }, [worker, datasetId, layer, perplexity, seed, status, mapId, attempt]);

  const compute = useCallback(() => {
    if (!layer) return;
    setComputing(true);
    setComputeError(null);
    datasetHasAtlas(datasetId, readyLayers, perplexity, seed)
      .then((hasAtlas) => gql(COMPUTE_MAP, { datasetId, layer, perplexity, seed, atlas: !hasAtlas }))
      .then(() => info.reload())
      .catch((error: unknown) => setComputeError(describeError(error)))
      .finally(() => setComputing(false));
  }, [datasetId, layer, perplexity, seed, info, readyLayers]);

  const reload = useCallback(() => {
    info.reload();
    setAttempt((a) => a + 1);
  }, [info]);

  return { info: info.data?.tsneMap ?? null, infoError: info.error, data, progress, loadError, computeError, computing, compute, reload };
}

/**
 * Whether the dataset has its thumbnail atlas already (any map of it points at one): then a new
 * map need not rebuild it, which takes minutes for a large set.
 */
async function datasetHasAtlas(datasetId: string, layers: readonly string[], perplexity: number, seed: number): Promise<boolean> {
  if (layers.length === 0) return false;
  const fields = layers.map((_, i) => `m${i}: tsneMap(datasetId: $datasetId, layer: $l${i}, perplexity: $perplexity, seed: $seed) { atlas { indexUrl } }`);
  const query = `query Atlases($datasetId: ID!, $perplexity: Float, $seed: Int, ${layers.map((_, i) => `$l${i}: String!`).join(', ')}) { ${fields.join(' ')} }`;
  const variables: Record<string, unknown> = { datasetId, perplexity, seed };
  layers.forEach((name, i) => (variables[`l${i}`] = name));
  try {
    const result = await gql<Record<string, { atlas: unknown } | null>>(query, variables);
    return Object.values(result).some((map) => !!map?.atlas);
  } catch {
    return false;
  }
}

/** sklearn needs perplexity < n; Strata's default 30, less for small sets. */
export function defaultPerplexity(images: number): number {
  return Math.max(2, Math.min(30, Math.floor((images - 1) / 3)));
}
