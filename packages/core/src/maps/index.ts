/**
 * @strata/core/maps: t-SNE maps of stored layers, kept in the store and computed once per
 * parameter set, and the pictures drawn from them (mosaic, atlas). Loads the t-SNE workers and
 * sharp, hence its own subpath. See docs/maps.md.
 */
export { computeMap, getMap, listMaps } from './compute.js';
export { atlasDirectory, buildDatasetAtlas, mapDirectory, renderStoredMosaic } from './render.js';
export type { DatasetAtlasOptions, DatasetAtlasResult, StoredMosaicOptions, StoredMosaicResult } from './render.js';
export type { ComputeMapOptions, MapDetails, MapKey, MapRecord } from './types.js';
export type { MapMethod } from '../store/maps-repository.js';
