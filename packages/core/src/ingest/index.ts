/**
 * The ingest pipeline: images -> VGG16 activations -> PCA -> the feature store, in one
 * resumable run. The caller loads the model (so this module never loads onnxruntime itself)
 * and opens the store.
 */
export { ingestDataset } from './ingest.js';
export type { IngestLayerSummary, IngestOptions, IngestPhase, IngestProgress, IngestSummary } from './ingest.js';
export { recordingSizes, sampledSource } from './sampled-source.js';
export type { ImageSize } from './sampled-source.js';
