/**
 * The per-request context: who is asking, and fresh DataLoaders (so that a request batches its
 * lookups and caches them for its own life only). Built by createContext() for each request;
 * resolvers read it and never change it.
 */
import DataLoader from 'dataloader';
import { canRead, type Principal } from '@strata/core/auth';
import {
  datasetAccess,
  datasetsByIds,
  getJobs,
  hnswIndexesOf,
  imagesByIds,
  layersByDatasetIds,
  storedImageCounts,
  vectorCounts,
  type ImageRow,
  type JobRecord,
  type LayerRow,
  type Metric,
} from '@strata/core/store';
import type { DatasetModel } from './models.js';
import type { ApiServices } from './services/index.js';

export interface Loaders {
  /** Datasets visible to the caller (null: missing or private to someone else). */
  readonly dataset: DataLoader<number, DatasetModel | null>;
  /** Images by id, whatever their dataset (check the dataset's visibility through `dataset`). */
  readonly image: DataLoader<number, ImageRow | null>;
  readonly layers: DataLoader<number, LayerRow[]>;
  readonly storedImages: DataLoader<number, number>;
  readonly vectorCount: DataLoader<number, number>;
  readonly indexes: DataLoader<LayerRow, Metric[], number>;
  readonly job: DataLoader<number, JobRecord | null>;
}

export interface ApiContext {
  readonly principal: Principal;
  readonly services: ApiServices;
  readonly loaders: Loaders;
  /** Origin for absolute URLs: STRATA_PUBLIC_URL, else this request's scheme and Host. */
  readonly origin: string;
}

export function createLoaders(services: ApiServices, principal: Principal): Loaders {
  const { store } = services;
  return {
    dataset: new DataLoader(async (ids) => {
      const [rows, access] = await Promise.all([datasetsByIds(store, ids), datasetAccess(store, ids)]);
      return rows.map((row, i) => {
        const rule = access[i];
        if (!row || !rule || !canRead(principal, rule)) return null;
        return { ...row, access: { owner: rule.owner, visibility: rule.visibility }, modelPath: rule.modelPath };
      });
    }),
    image: new DataLoader((ids) => imagesByIds(store, ids)),
    layers: new DataLoader((ids) => layersByDatasetIds(store, ids)),
    storedImages: new DataLoader((ids) => storedImageCounts(store, ids)),
    vectorCount: new DataLoader((ids) => vectorCounts(store, ids)),
    indexes: new DataLoader((layers) => hnswIndexesOf(store, layers), { cacheKeyFn: (layer) => layer.id }),
    job: new DataLoader((ids) => getJobs(store, ids)),
  };
}

export function createContext(services: ApiServices, principal: Principal, origin: string): ApiContext {
  return { principal, services, loaders: createLoaders(services, principal), origin };
}
