/** The slices of apps/api/schema.graphql the web app reads, as TypeScript types. */

export type Role = 'VIEWER' | 'EDITOR' | 'ADMIN';
export type Visibility = 'PRIVATE' | 'LAB';
export type LayerStatus = 'SAMPLING' | 'INGESTING' | 'INDEXING' | 'READY' | 'FAILED';
export type RunStatus = 'QUEUED' | 'RUNNING' | 'DONE' | 'FAILED' | 'CANCELLED';
export type RunKind = 'EXTRACTION' | 'MAP' | 'COMPARISON' | 'LAYER_MATRIX';
export type MapStatus = 'NOT_COMPUTED' | 'QUEUED' | 'RUNNING' | 'READY' | 'FAILED';
export type ResultStatus = MapStatus;
export type ComparisonMetric = 'CKA' | 'RSA' | 'KNN_OVERLAP';

export interface Viewer {
  readonly user: string;
  readonly role: Role;
}

export interface Layer {
  readonly name: string;
  readonly kind: 'CONV' | 'POOL';
  readonly index: number;
  readonly shape: readonly number[];
  readonly dimension: number;
}

export interface RunError {
  readonly index: number | null;
  readonly sourceId: string | null;
  readonly message: string;
}

export interface Run {
  readonly id: string;
  readonly kind: RunKind;
  readonly status: RunStatus;
  readonly owner: string;
  readonly phase: string | null;
  readonly done: number;
  readonly total: number;
  readonly rate: number | null;
  readonly etaSeconds: number | null;
  readonly progress: number | null;
  readonly error: string | null;
  readonly errors: readonly RunError[];
  readonly attempts: number;
  readonly cancelRequested: boolean;
  readonly params: unknown;
  readonly createdAt: string;
  readonly startedAt: string | null;
  readonly finishedAt: string | null;
}

export interface DatasetLayer {
  readonly name: string;
  readonly components: number;
  readonly status: LayerStatus;
  readonly vectorCount: number;
  readonly indexes: readonly ('COSINE' | 'L2')[];
  readonly explainedVariance: number | null;
}

export interface DatasetSummary {
  readonly id: string;
  readonly name: string;
  readonly sourceKind: 'HDF5' | 'FOLDER';
  readonly imageCount: number;
  readonly storedImages: number;
  readonly owner: string | null;
  readonly visibility: Visibility;
  readonly createdAt: string;
  readonly layers: readonly DatasetLayer[];
}

export interface Dataset extends DatasetSummary {
  readonly hdf5Dataset: string | null;
  readonly model: { readonly name: string; readonly sha256: string };
}

export interface Image {
  readonly id: string;
  readonly index: number;
  readonly sourceId: string;
  readonly width: number;
  readonly height: number;
}

export interface ImagePage {
  readonly total: number;
  readonly offset: number;
  readonly limit: number;
  readonly items: readonly Image[];
}

export interface Neighbor {
  readonly distance: number;
  readonly image: Image;
}

export interface TsneMapInfo {
  readonly id: string | null;
  readonly layer: string;
  readonly perplexity: number;
  readonly seed: number;
  readonly status: MapStatus;
  readonly klDivergence: number | null;
  readonly pointCount: number;
  readonly mosaicUrl: string | null;
  readonly atlas: { readonly indexUrl: string } | null;
  readonly run: Run | null;
}

export interface LayerSimilarityMatrix {
  readonly metric: ComparisonMetric;
  readonly status: ResultStatus;
  readonly layers: readonly string[] | null;
  readonly values: readonly (readonly number[])[] | null;
  readonly run: Run | null;
}

export interface LayerComparison {
  readonly layerA: string;
  readonly layerB: string;
  readonly status: ResultStatus;
  readonly cka: number | null;
  readonly rsa: number | null;
  readonly knnOverlap: number | null;
  readonly run: Run | null;
}
