/**
 * The map and comparison functions the jobs call are written in parallel with this module
 * (`@strata/core/maps`: computeMap, getMap, renderStoredMosaic, buildDatasetAtlas;
 * `@strata/core/compare`: compareDatasetLayers, layerSimilarityMatrix). They are looked up at
 * run time, so that this module builds and runs before they exist; where one is missing the
 * job (and the API, before queueing) says so with a NotAvailableError instead of failing to load.
 */
import type { Store } from '../store/store.js';

export class NotAvailableError extends Error {
  override readonly name = 'NotAvailableError';
  readonly code = 'NOT_IMPLEMENTED';
}

/** What computeMap returns (columnar coordinates, one row per stored image). */
export interface MapRecord {
  readonly id: number;
  readonly dataset: string;
  readonly layer: string;
  readonly perplexity: number;
  readonly seed: number;
  readonly status: string;
  readonly klDivergence: number | null;
  readonly imageIds: Int32Array;
  readonly x: Float32Array;
  readonly y: Float32Array;
  /** Absolute, or relative to the data folder. */
  readonly mosaicPath?: string | null;
  readonly atlasDir?: string | null;
}

export interface MapProgressLike {
  readonly phase?: string;
  readonly step?: string;
  readonly done?: number;
  readonly total?: number;
  readonly iteration?: number;
  readonly iterations?: number;
}

export interface MapsModule {
  computeMap(
    store: Store,
    options: {
      dataset: string;
      layer: string;
      perplexity: number;
      seed: number;
      iterations?: number;
      method?: string;
      threads?: number;
      onProgress?: (progress: MapProgressLike) => void;
      signal?: AbortSignal;
      staleAfterMs?: number;
    },
  ): Promise<MapRecord>;
  getMap?(store: Store, key: number | { dataset: string; layer: string; perplexity: number; seed: number; method?: string }): Promise<MapRecord | null>;
  renderStoredMosaic?(store: Store, mapId: number, options?: { signal?: AbortSignal }): Promise<{ readonly path?: string }>;
  buildDatasetAtlas?(store: Store, dataset: string, options?: { signal?: AbortSignal }): Promise<{ readonly atlasDir?: string }>;
}

export interface LayerComparisonResult {
  readonly cka: number | null;
  readonly rsa: number | null;
  readonly knnOverlap: number | null;
  readonly images?: number;
}

export interface CompareProgressLike {
  readonly step?: string;
  readonly done?: number;
  readonly total?: number;
}

export interface LayerMatrixResult {
  readonly layers: readonly string[];
  readonly values: ArrayLike<number> | readonly (readonly number[])[];
  readonly images?: number;
}

export interface CompareModule {
  compareDatasetLayers(
    store: Store,
    options: { dataset: string; layerA: string; layerB: string; signal?: AbortSignal; onProgress?: (progress: CompareProgressLike) => void },
  ): Promise<LayerComparisonResult>;
  layerSimilarityMatrix(
    store: Store,
    options: { dataset: string; metric: string; signal?: AbortSignal; onProgress?: (progress: CompareProgressLike) => void },
  ): Promise<LayerMatrixResult>;
}

// Specifiers in variables: TypeScript does not resolve them, Node does at run time.
const MAPS_MODULE = '../maps/index.js';
const COMPARE_MODULE = '../compare/index.js';

async function load(specifier: string): Promise<Record<string, unknown> | null> {
  try {
    return (await import(new URL(specifier, import.meta.url).href)) as Record<string, unknown>;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return null;
    throw error;
  }
}

export interface Capabilities {
  readonly maps: boolean;
  readonly getMap: boolean;
  readonly mosaic: boolean;
  readonly atlas: boolean;
  readonly compareLayers: boolean;
  readonly layerMatrix: boolean;
}

let cached: Promise<{ maps: Record<string, unknown> | null; compare: Record<string, unknown> | null }> | undefined;

function modules() {
  cached ??= Promise.all([load(MAPS_MODULE), load(COMPARE_MODULE)]).then(([maps, compare]) => ({ maps, compare }));
  return cached;
}

const isFunction = (module: Record<string, unknown> | null, name: string): boolean => typeof module?.[name] === 'function';

export async function capabilities(): Promise<Capabilities> {
  const { maps, compare } = await modules();
  return {
    maps: isFunction(maps, 'computeMap'),
    getMap: isFunction(maps, 'getMap'),
    mosaic: isFunction(maps, 'renderStoredMosaic'),
    atlas: isFunction(maps, 'buildDatasetAtlas'),
    compareLayers: isFunction(compare, 'compareDatasetLayers'),
    layerMatrix: isFunction(compare, 'layerSimilarityMatrix'),
  };
}

export async function mapsModule(): Promise<MapsModule> {
  const { maps } = await modules();
  if (!isFunction(maps, 'computeMap')) {
    throw new NotAvailableError('t-SNE maps are not available in this build: @strata/core/maps has no computeMap yet');
  }
  return maps as unknown as MapsModule;
}

export async function compareModule(what: 'compareDatasetLayers' | 'layerSimilarityMatrix'): Promise<CompareModule> {
  const { compare } = await modules();
  if (!isFunction(compare, what)) {
    throw new NotAvailableError(`layer comparisons are not available in this build: @strata/core/compare has no ${what} yet`);
  }
  return compare as unknown as CompareModule;
}
