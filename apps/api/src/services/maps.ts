/**
 * Stored t-SNE maps as the API reads them (@strata/core/maps' getMap), with absolute paths, and
 * the dataset a map belongs to for /files/maps/:id.
 */
import { isAbsolute, join } from 'node:path';
import { getMap, type MapRecord } from '@strata/core/maps';
import type { Store } from '@strata/core/store';
import type { StoredMap } from '../models.js';

export interface MapKey {
  readonly dataset: string;
  readonly layer: string;
  readonly perplexity: number;
  readonly seed: number;
}

function absolute(store: Store, path: string | null | undefined): string | null {
  if (!path) return null;
  return isAbsolute(path) ? path : join(store.layout.root, path);
}

function fromRecord(store: Store, record: MapRecord, atlasDir?: string | null): StoredMap {
  return {
    id: record.id,
    klDivergence: record.klDivergence ?? null,
    imageIds: record.imageIds,
    x: record.x,
    y: record.y,
    mosaicPath: absolute(store, record.mosaicPath),
    atlasDir: absolute(store, record.atlasDir ?? atlasDir),
  };
}

export class MapReader {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The map computed for these parameters, or null. `atlasDir` fills in where the map has none. */
  async find(key: MapKey, hint: { mapId?: number; atlasDir?: string | null } = {}): Promise<StoredMap | null> {
    const record = await getMap(this.#store, hint.mapId ?? { dataset: key.dataset, layer: key.layer, perplexity: key.perplexity, seed: key.seed }).catch((error: unknown) => {
      // A layer not extracted (yet) has no map: that is NOT_COMPUTED, not an error.
      if ((error as { code?: string }).code === 'NOT_FOUND') return null;
      throw error;
    });
    return record && record.status === 'done' ? fromRecord(this.#store, record, hint.atlasDir) : null;
  }

  /** A map by id (for /files/maps/:id), with the id of its dataset. */
  async byId(id: number): Promise<{ map: StoredMap; datasetId: number } | null> {
    const record = await getMap(this.#store, id);
    return record && record.status === 'done' ? { map: fromRecord(this.#store, record), datasetId: record.datasetId } : null;
  }
}
