/** The GraphQL documents the web app sends (apps/api/schema.graphql). */

export const RUN_FIELDS = `
  id kind status owner phase done total rate etaSeconds progress error attempts cancelRequested params
  createdAt startedAt finishedAt errors { index sourceId message }
`;

const LAYER_FIELDS = 'name components status vectorCount indexes explainedVariance';
const IMAGE_FIELDS = 'id index sourceId width height';

export const ME = `query Me { me { user role } }`;

export const LAYERS = `query Layers { layers { name kind index shape dimension } }`;

export const DATASETS = `query Datasets {
  datasets { id name sourceKind imageCount storedImages owner visibility createdAt layers { ${LAYER_FIELDS} } }
}`;

// List limits are literals: the API prices a query by the largest list a variable could ask for.
export const DATASET = `query Dataset($id: ID!) {
  dataset(id: $id) {
    id name sourceKind hdf5Dataset imageCount storedImages owner visibility createdAt
    model { name sha256 }
    layers { ${LAYER_FIELDS} }
    runs(limit: 20) { ${RUN_FIELDS} }
  }
}`;

export const DATASET_BRIEF = `query DatasetBrief($id: ID!) {
  dataset(id: $id) { id name sourceKind hdf5Dataset imageCount storedImages owner visibility createdAt model { name sha256 } layers { ${LAYER_FIELDS} } }
}`;

export const DATASET_RUNS = `query DatasetRuns($id: ID!) {
  dataset(id: $id) { id storedImages layers { ${LAYER_FIELDS} } runs(limit: 20) { ${RUN_FIELDS} } }
}`;

export const IMAGES = `query Images($datasetId: ID!, $offset: Int, $limit: Int) {
  images(datasetId: $datasetId, offset: $offset, limit: $limit) { total offset limit items { ${IMAGE_FIELDS} } }
}`;

export const IMAGE = `query Image($id: ID!) { image(id: $id) { ${IMAGE_FIELDS} } }`;

export const NEAREST = `query Nearest($imageId: ID!, $layer: String!, $k: Int) {
  nearestNeighbors(imageId: $imageId, layer: $layer, k: $k) { distance image { ${IMAGE_FIELDS} } }
}`;

export const SIMILAR = `query Similar($datasetId: ID!, $uploadId: ID!, $layer: String!, $k: Int) {
  similarImages(datasetId: $datasetId, upload: { uploadId: $uploadId }, layer: $layer, k: $k) { distance image { ${IMAGE_FIELDS} } }
}`;

export const TSNE_MAP = `query TsneMap($datasetId: ID!, $layer: String!, $perplexity: Float, $seed: Int) {
  tsneMap(datasetId: $datasetId, layer: $layer, perplexity: $perplexity, seed: $seed) {
    id layer perplexity seed status klDivergence pointCount mosaicUrl atlas { indexUrl } run { ${RUN_FIELDS} }
  }
}`;

export const MAP_COLUMNS = `query MapColumns($datasetId: ID!, $layer: String!, $perplexity: Float, $seed: Int) {
  tsneMap(datasetId: $datasetId, layer: $layer, perplexity: $perplexity, seed: $seed) { id status columns { imageIds x y } atlas { indexUrl } }
}`;

export const LAYER_MATRIX = `query LayerMatrix($datasetId: ID!, $metric: ComparisonMetric) {
  layerSimilarityMatrix(datasetId: $datasetId, metric: $metric) { metric status layers values run { ${RUN_FIELDS} } }
}`;

export const COMPARE_LAYERS = `query CompareLayers($datasetId: ID!, $layerA: String!, $layerB: String!) {
  compareLayers(datasetId: $datasetId, layerA: $layerA, layerB: $layerB) { layerA layerB status cka rsa knnOverlap run { ${RUN_FIELDS} } }
}`;

export const START_EXTRACTION = `mutation StartExtraction($datasetId: ID!, $layers: [String!]!, $pcaComponents: Int, $sampleSize: Int, $batchSize: Int) {
  startExtraction(datasetId: $datasetId, layers: $layers, pcaComponents: $pcaComponents, sampleSize: $sampleSize, batchSize: $batchSize) { ${RUN_FIELDS} }
}`;

export const CREATE_DATASET = `mutation CreateDataset($input: CreateDatasetInput!) { createDataset(input: $input) { id name imageCount } }`;

export const CANCEL_RUN = `mutation CancelRun($id: ID!) { cancelRun(id: $id) { ${RUN_FIELDS} } }`;

/** The atlas belongs to the dataset: built with its first map, reused by the others. */
export const COMPUTE_MAP = `mutation ComputeMap($datasetId: ID!, $layer: String!, $perplexity: Float, $seed: Int, $atlas: Boolean) {
  computeMap(datasetId: $datasetId, layer: $layer, perplexity: $perplexity, seed: $seed, mosaic: true, atlas: $atlas) { ${RUN_FIELDS} }
}`;

export const COMPUTE_LAYER_MATRIX = `mutation ComputeLayerMatrix($datasetId: ID!, $metric: ComparisonMetric) {
  computeLayerSimilarity(datasetId: $datasetId, metric: $metric) { ${RUN_FIELDS} }
}`;

export const COMPUTE_COMPARISON = `mutation ComputeComparison($datasetId: ID!, $layerA: String!, $layerB: String!) {
  computeComparison(datasetId: $datasetId, layerA: $layerA, layerB: $layerB) { ${RUN_FIELDS} }
}`;

/**
 * Image ids with their source positions, PAGES pages of 500 per request (aliases keep the
 * request count down; the API's cost limit, 25,000 by default, allows about 16).
 */
export const IMAGE_INDEX_PAGES = 12;
export function imageIndexQuery(pages: number): string {
  const fields = Array.from({ length: pages }, (_, i) => `p${i}: images(datasetId: $datasetId, offset: $o${i}, limit: 500) { total items { id index sourceId } }`);
  const vars = Array.from({ length: pages }, (_, i) => `$o${i}: Int`).join(', ');
  return `query ImageIndex($datasetId: ID!, ${vars}) { ${fields.join('\n')} }`;
}
