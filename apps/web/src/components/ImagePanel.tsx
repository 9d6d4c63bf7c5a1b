'use client';

import { useEffect, useState } from 'react';
import { imageUrl, thumbnailUrl } from '../api/client';
import { IMAGE, NEAREST } from '../api/queries';
import type { Image, Neighbor } from '../api/types';
import { useApi } from '../hooks/useApi';
import { ErrorState, formatNumber, Skeleton } from './common';

const K = 12;

/** One image, large, with its nearest neighbours in a chosen layer's PCA space. */
export function ImagePanel({
  imageId,
  layers,
  layer: initialLayer,
  onOpen,
  onClose,
  headingId = 'image-panel-title',
}: {
  imageId: string;
  /** Layers with stored vectors (neighbour search works in those). */
  layers: readonly string[];
  layer?: string;
  /** Opens another image (a neighbour). */
  onOpen: (imageId: string) => void;
  onClose?: () => void;
  headingId?: string;
}) {
  const [layer, setLayer] = useState(initialLayer && layers.includes(initialLayer) ? initialLayer : (layers[layers.length - 1] ?? ''));
  useEffect(() => {
    if (initialLayer && layers.includes(initialLayer)) setLayer(initialLayer);
  }, [initialLayer, layers]);
  const image = useApi<{ image: Image | null }>(IMAGE, { id: imageId });
  const neighbors = useApi<{ nearestNeighbors: Neighbor[] }>(layer ? NEAREST : null, { imageId, layer, k: K });
  const info = image.data?.image;
  return (
    <section aria-labelledby={headingId} data-testid="image-panel">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h2 id={headingId} style={{ margin: 0 }}>
          Image {info ? `#${info.index}` : ''}
        </h2>
        {onClose ? (
          <button type="button" onClick={onClose} aria-label="Close the image">
            ✕
          </button>
        ) : null}
      </div>
      <div className="big-image" style={{ marginTop: 8 }}>
        {/* eslint-disable-next-line @next/next/no-img-element */}
        <img src={imageUrl(imageId)} alt={info ? `Image ${info.index} (${info.sourceId})` : 'The selected image'} />
      </div>
      <p className="small muted" style={{ minHeight: '1.3em', margin: '0.4rem 0' }}>
        {info ? `source ${info.sourceId} · ${info.width} × ${info.height} px · id ${info.id}` : '\u00a0'}
      </p>
      <div className="row">
        <label>
          Neighbours in
          <select value={layer} onChange={(event) => setLayer(event.target.value)} aria-label="Layer for nearest neighbours">
            {layers.map((name) => (
              <option key={name} value={name}>
                {name}
              </option>
            ))}
          </select>
        </label>
      </div>
      <h3>Nearest {K} in {layer || '–'}</h3>
      {layers.length === 0 ? <p className="muted">No layer has stored vectors yet.</p> : null}
      {neighbors.error ? <ErrorState error={neighbors.error} onRetry={neighbors.reload} title="Neighbours could not be loaded" /> : null}
      <div className="neighbors" aria-busy={neighbors.loading} data-testid="neighbors">
        {neighbors.data && !neighbors.loading
          ? neighbors.data.nearestNeighbors.map((neighbor, rank) => (
              <button key={neighbor.image.id} type="button" onClick={() => onOpen(neighbor.image.id)} aria-label={`Neighbour ${rank + 1}: image ${neighbor.image.index}, distance ${formatNumber(neighbor.distance, 3)}`}>
                {/* eslint-disable-next-line @next/next/no-img-element */}
                <img src={thumbnailUrl(neighbor.image.id)} alt="" loading="lazy" />
                <span className="distance">{formatNumber(neighbor.distance, 3)}</span>
              </button>
            ))
          : Array.from({ length: K }, (_, i) => <Skeleton key={i} height="100%" />)}
      </div>
    </section>
  );
}
