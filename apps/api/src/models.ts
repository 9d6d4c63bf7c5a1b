/**
 * What resolvers pass to each other (codegen's mappers): the rows the store returns, with the
 * little the API adds, and not yet the GraphQL shape — field resolvers finish that.
 */
import type { LayerInfo } from '@strata/core';
import type { DatasetAccess, Principal } from '@strata/core/auth';
import type { DatasetRow, ImageRow, JobItemError, JobRecord, LayerRow } from '@strata/core/store';

export type ViewerModel = Principal;
export type LayerModel = LayerInfo;
export interface ModelModel {
  readonly name: string;
  readonly sha256: string;
}
export type DatasetModel = DatasetRow & {
  readonly access: DatasetAccess;
  /** The model file it was registered with through the API (null for CLI-made datasets). */
  readonly modelPath: string | null;
};
export type DatasetLayerModel = LayerRow;
export interface ImagePageModel {
  readonly datasetId: number;
  readonly offset: number;
  readonly limit: number;
  readonly items: readonly ImageRow[];
}
export type ImageModel = ImageRow;
export interface NeighborModel {
  readonly image: ImageRow;
  readonly distance: number;
}

export type ResultState = 'NOT_COMPUTED' | 'QUEUED' | 'RUNNING' | 'READY' | 'FAILED';

export interface TsneMapModel {
  readonly dataset: DatasetModel;
  readonly layer: string;
  readonly perplexity: number;
  readonly seed: number;
  readonly status: ResultState;
  readonly job: JobRecord | null;
  readonly map: StoredMap | null;
}

/** A computed map as the API keeps it in hand. */
export interface StoredMap {
  readonly id: number;
  readonly klDivergence: number | null;
  readonly imageIds: Int32Array;
  readonly x: Float32Array;
  readonly y: Float32Array;
  /** Absolute paths. */
  readonly mosaicPath: string | null;
  readonly atlasDir: string | null;
}

export interface MapPointModel {
  readonly imageId: number;
  readonly x: number;
  readonly y: number;
}
export interface MapColumnsModel {
  readonly imageIds: readonly number[];
  readonly x: readonly number[];
  readonly y: readonly number[];
}
export interface AtlasModel {
  readonly mapId: number;
  /** Absolute path of atlas.json. */
  readonly indexPath: string;
}
export interface LayerComparisonModel {
  readonly dataset: DatasetModel;
  readonly layerA: string;
  readonly layerB: string;
  readonly status: ResultState;
  readonly job: JobRecord | null;
}
export interface LayerSimilarityMatrixModel {
  readonly dataset: DatasetModel;
  readonly metric: 'CKA' | 'RSA' | 'KNN_OVERLAP';
  readonly status: ResultState;
  readonly job: JobRecord | null;
}
export type RunModel = JobRecord;
export type RunErrorModel = JobItemError;
