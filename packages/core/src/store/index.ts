/**
 * @strata/core/store: the feature store (Postgres + pgvector through Prisma; embedded PGlite
 * by default, a server through DATABASE_URL), its migrations and the vector repository.
 */
export { openStore, Store } from './store.js';
export type {
  DatasetRecord,
  ImageRecord,
  ImageRef,
  LayerRecord,
  Neighbor,
  NeighborQuery,
  NeighborResult,
  OpenStoreOptions,
  PcaBasisRecord,
  RunRecord,
  TransactionClient,
} from './store.js';
export { dataDirLayout, defaultDataDir, lockDirectory } from './data-dir.js';
export type { DataDirLayout } from './data-dir.js';
export { redactUrl } from './backend.js';
export type { BackendKind } from './backend.js';
export { ConflictError, InvalidInputError, MigrationError, NotFoundError, StoreError } from './errors.js';
export type { StoreErrorCode } from './errors.js';
export { applyMigrations, checksumOf, defaultMigrationsDir, migrationStatus, readMigrations } from './migrate.js';
export type { Migration, MigrationReport, MigrationStatus } from './migrate.js';
export {
  MAX_EF_SEARCH,
  MAX_INDEXED_DIMENSION,
  METRICS,
  countVectors,
  createHnswIndex,
  defaultEfSearch,
  dropHnswIndexes,
  hnswIndexName,
  insertVectors,
  listHnswIndexes,
  parseMetric,
  readVectors,
  searchVectors,
  vectorFromSql,
  vectorToSql,
} from './vectors.js';
export type { HnswOptions, Metric, SearchOptions, SqlClient, VectorHit, VectorSpace } from './vectors.js';
export { LayerStatus, RunKind, RunStatus, SourceKind } from './generated/enums.js';
// Map rows (t-SNE coordinates as bytea); computing and drawing maps is @strata/core/maps.
export { MAP_METHODS, decodeCoordinates, decodeImageIds, encodeCoordinates, encodeImageIds, findMapById, findMapByKey, listMapRows } from './maps-repository.js';
export type { MapMethod, MapRow, MapRowKey } from './maps-repository.js';
// Comparison rows; computing them from stored layers is @strata/core/compare (compareDatasetLayers, ...).
export { comparisonInputs, comparisonKey, findComparisons, listComparisonRows, saveComparisons } from './comparisons-repository.js';
export type { ComparedLayer, ComparisonAnswer, ComparisonQuestion, StoredComparison, StoredComparisonMetric } from './comparisons-repository.js';
export { addSyntheticLayer, clusteredVectors, createSyntheticDataset, exactNeighbors } from './synthetic.js';
export type { ClusteredVectorsOptions, SyntheticDataset, SyntheticDatasetOptions, SyntheticLayer, SyntheticLayerOptions } from './synthetic.js';
// The ingest pipeline lives in src/ingest; until package.json exports "./ingest" it is reached
// through this subpath. It loads no native runtime (the caller passes the loaded model).
export { ingestDataset, recordingSizes, sampledSource } from '../ingest/index.js';
export type { ImageSize, IngestLayerSummary, IngestOptions, IngestPhase, IngestProgress, IngestSummary } from '../ingest/index.js';
export { createScratchDatabase } from './scratch-database.js';
export type { ScratchDatabase } from './scratch-database.js';
// The GraphQL API's tables (schema strata_api) and batched lookups by id.
export { API_SCHEMA, API_SCHEMA_VERSION, ensureApiSchema } from './api-schema.js';
export {
  authenticateToken,
  createApiToken,
  datasetAccess,
  getUpload,
  listApiTokens,
  recordUpload,
  registerDataset,
  revokeApiToken,
  setDatasetVisibility,
  sharedSecret,
  tokenIsActive,
} from './access-repository.js';
export type { ApiTokenRecord, DatasetAccessRecord, RegisterDatasetOptions, UploadRecord } from './access-repository.js';
export {
  FINISHED_JOB_STATUSES,
  claimJob,
  createJob,
  failJob,
  finishJob,
  getJobs,
  heartbeatJob,
  latestJob,
  listJobs,
  reclaimStaleJobs,
  reportJobProgress,
  requestJobCancel,
} from './job-repository.js';
export type { Heartbeat, JobFilter, JobItemError, JobKind, JobOutcome, JobProgress, JobRecord, JobStatus, NewJob, StaleJob } from './job-repository.js';
export {
  allDatasets,
  datasetByName,
  datasetsByIds,
  hnswIndexesOf,
  imageBySourceId,
  imagePage,
  imagesByIds,
  layersByDatasetIds,
  storedImageCounts,
  vectorCounts,
} from './lookup-repository.js';
export type { DatasetRow, ImageRow, LayerRow } from './lookup-repository.js';
export { imageNeighbors } from './neighbor-repository.js';
export type { ImageNeighbors, ImageNeighborsQuery } from './neighbor-repository.js';
