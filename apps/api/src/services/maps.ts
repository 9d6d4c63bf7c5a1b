/**
 * Stored t-SNE maps as the API reads them: through @strata/core/maps' getMap when the build has
 * it, else straight from the store's `map` table (coordinates as little-endian float32 x,y
 * pairs, image ids as int32, per prisma/schema.prisma). Paths come back absolute.
 */
import { isAbsolute, join } from 'node:path';
import { capabilities, mapsModule, type MapRecord } from '@strata/core/jobs';
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

function decode(bytes: Uint8Array | null, kind: 'f32' | 'i32'): Float32Array | Int32Array {
  if (!bytes) return kind === 'f32' ? new Float32Array(0) : new Int32Array(0);
  const copy = new Uint8Array(bytes.byteLength);
  copy.set(bytes);
  return kind === 'f32' ? new Float32Array(copy.buffer) : new Int32Array(copy.buffer);
}

export class MapReader {
  readonly #store: Store;

  constructor(store: Store) {
    this.#store = store;
  }

  /** The map computed for these parameters, or null. `atlasDir` fills in where the map has none. */
  async find(key: MapKey, hint: { mapId?: number; atlasDir?: string | null } = {}): Promise<StoredMap | null> {
    if ((await capabilities()).getMap) {
      const maps = await mapsModule();
      const record = await maps.getMap?.(this.#store, hint.mapId ?? { dataset: key.dataset, layer: key.layer, perplexity: key.perplexity, seed: key.seed }).catch((error: unknown) => {
        // A layer not extracted (yet) has no map: that is NOT_COMPUTED, not an error.
        if ((error as { code?: string }).code === 'NOT_FOUND') return null;
        throw error;
      });
      return record && record.status !== 'failed' && record.status !== 'running' ? fromRecord(this.#store, record, hint.atlasDir) : null;
    }
    return this.#fromTable(hint.mapId ? { id: hint.mapId } : key, hint.atlasDir);
  }

  /** A map by id (for /files/maps/:id), with the id of its dataset. */
  async byId(id: number): Promise<{ map: StoredMap; datasetId: number } | null> {
    const row = await this.#store.withPrisma((prisma) =>
      prisma.map.findUnique({ where: { id }, select: { id: true, datasetLayer: { select: { datasetId: true, layer: true, dataset: { select: { name: true } } } }, perplexity: true, seed: true } }),
    );
    if (!row) return null;
    const map = await this.find(
      { dataset: row.datasetLayer.dataset.name, layer: row.datasetLayer.layer, perplexity: row.perplexity, seed: row.seed },
      { mapId: row.id },
    );
    return map ? { map, datasetId: row.datasetLayer.datasetId } : null;
  }

  async #fromTable(key: MapKey | { id: number }, atlasDir?: string | null): Promise<StoredMap | null> {
    const row = await this.#store.withPrisma((prisma) =>
      prisma.map.findFirst({
        where:
          'id' in key
            ? { id: key.id }
            : { datasetLayer: { layer: key.layer, dataset: { name: key.dataset } }, perplexity: key.perplexity, seed: key.seed, status: 'done' },
        orderBy: { id: 'desc' },
      }),
    );
    if (!row || row.status !== 'done') return null;
    const xy = decode(row.coordinates, 'f32') as Float32Array;
    const count = xy.length / 2;
    const x = new Float32Array(count);
    const y = new Float32Array(count);
    for (let i = 0; i < count; i++) {
      x[i] = xy[2 * i] as number;
      y[i] = xy[2 * i + 1] as number;
    }
    const params = (row.params ?? {}) as Record<string, unknown>;
    return {
      id: row.id,
      klDivergence: typeof params.klDivergence === 'number' ? params.klDivergence : null,
      imageIds: decode(row.imageIds, 'i32') as Int32Array,
      x,
      y,
      mosaicPath: absolute(this.#store, row.mosaicPath),
      atlasDir: absolute(this.#store, typeof params.atlasDir === 'string' ? params.atlasDir : atlasDir),
    };
  }
}
