'use client';

import dynamic from 'next/dynamic';
import type { MapWorkspaceProps } from './MapWorkspace';

/** The workspace draws with WebGL and a worker: browser only, loaded after the page shell. */
const MapWorkspace = dynamic(() => import('./MapWorkspace').then((module) => module.MapWorkspace), {
  ssr: false,
  loading: () => (
    <div className="workspace" aria-busy="true">
      <div className="toolbar">
        <div className="skeleton" style={{ width: '28rem', height: 34 }} role="status" aria-label="Loading the map viewer" />
      </div>
      <div className="map-stage" />
    </div>
  ),
});

export function MapWorkspaceLoader(props: MapWorkspaceProps) {
  return <MapWorkspace {...props} />;
}
