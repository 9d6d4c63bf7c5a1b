// Layer comparison: CKA, RSA, kNN neighbourhood agreement, Procrustes alignment of maps,
// and correlation of external (brain) RDMs with every layer. Functions take in-memory
// matrices or block-readable sources, so a database store can feed them what it reads.
export { toSource, checkSameRows, readRowsInto, NonFiniteFeatureError } from './features.js';
export type { FeatureInput, FeatureMatrix, FeatureSource, NamedFeatures, SyncFeatureSource } from './features.js';
export { NpyFeatureSource } from './npy-source.js';
export { openLayerDirectory } from './layer-dir.js';
export type { LayerDirectory } from './layer-dir.js';
export { dotRows } from './dot.js';
export { chooseKernel, float32DotBound, parseKernel, KERNELS, ONNX_MIN_MULTIPLY_ADDS } from './kernel.js';
export type { Kernel } from './kernel.js';
export { gramOfRows } from './gram.js';
export type { Gram, GramCentering, GramOptions } from './gram.js';
export { linearCka, ckaMatrix, planCka, DEFAULT_MEMORY_BYTES } from './cka.js';
export type { CkaMethod, CkaOptions } from './cka.js';
export { rdmUpperTriangle, upperTriangleSize, ConstantRowError } from './rdm.js';
export type { RdmOptions } from './rdm.js';
export { rsa, rsaRows, compareRdms, DEFAULT_RSA_MAX_IMAGES } from './rsa.js';
export type { RsaOptions, RsaResult } from './rsa.js';
export { nearestNeighbors, neighborOverlap, sortNeighborRows, parseKnnDistance, KNN_DISTANCES, DEFAULT_K } from './knn.js';
export type { KnnDistance, KnnOptions } from './knn.js';
export { procrustes } from './procrustes.js';
export type { ProcrustesOptions, ProcrustesResult } from './procrustes.js';
export { compareLayers, compareTwo, DEFAULT_MAX_QUERIES } from './layer-matrix.js';
export type { CompareLayersOptions, CompareProgress, LayerMatrix, PairComparison } from './layer-matrix.js';
export { parseMetric, formatMetric, COMPARISON_METRICS } from './metric.js';
export type { ComparisonMetric, MetricSpec } from './metric.js';
export { validateRdm, matchImageIds, DEFAULT_RDM_TOLERANCE } from './external-rdm.js';
export type { ExternalRdm, RdmValidationOptions } from './external-rdm.js';
export { readRdmFile, readIdsFile, parseCsvLine } from './rdm-files.js';
export type { ReadRdmOptions } from './rdm-files.js';
export {
  correlateRdmWithLayers,
  permutationCounts,
  permutationSeed,
  subsetRdm,
  upperTriangle,
  ALTERNATIVES,
  DEFAULT_PERMUTATIONS,
  DEFAULT_BRAIN_MAX_IMAGES,
} from './mantel.js';
export type { Alternative, LayerRdmCorrelation, RdmCorrelationOptions, RdmCorrelationResult } from './mantel.js';
export { pearson, spearman, correlateCenteredRanks } from './correlation.js';
// On the store: comparisons of an ingested dataset's layers, stored and reused.
export { compareDatasetLayers, correlateBrainRdm, layerSimilarityMatrix, listDatasetComparisons, rdmSha256 } from './dataset.js';
export type {
  CompareDatasetLayersOptions,
  CorrelateBrainRdmOptions,
  DatasetBrainCorrelation,
  DatasetComparisonOptions,
  DatasetLayerComparison,
  DatasetLayerMatrix,
  LayerBrainCorrelation,
  LayerSimilarityMatrixOptions,
  ListedComparison,
  PairMetricOptions,
  StoredMetricResult,
} from './dataset.js';
export { centeredRanks, argsortFloat64 } from './rank.js';
export { randomPermutation, sampleIndices } from './sample.js';
