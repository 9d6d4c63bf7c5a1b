/** Every resolver, assembled into the map Apollo takes; one file per field or type. */
import type { Resolvers } from '../generated/resolvers.js';
import { cancelRun } from './Mutation/cancelRun.js';
import { computeComparison } from './Mutation/computeComparison.js';
import { computeLayerSimilarity } from './Mutation/computeLayerSimilarity.js';
import { computeMap } from './Mutation/computeMap.js';
import { createDataset } from './Mutation/createDataset.js';
import { setDatasetVisibility } from './Mutation/setDatasetVisibility.js';
import { startExtraction } from './Mutation/startExtraction.js';
import { compareLayers } from './Query/compareLayers.js';
import { dataset } from './Query/dataset.js';
import { datasets } from './Query/datasets.js';
import { image } from './Query/image.js';
import { images } from './Query/images.js';
import { layerSimilarityMatrix } from './Query/layerSimilarityMatrix.js';
import { layers } from './Query/layers.js';
import { me } from './Query/me.js';
import { nearestNeighbors } from './Query/nearestNeighbors.js';
import { run } from './Query/run.js';
import { runs } from './Query/runs.js';
import { similarImages } from './Query/similarImages.js';
import { tsneMap } from './Query/tsneMap.js';
import { LayerComparison, LayerSimilarityMatrix } from './types/Comparison.js';
import { Dataset } from './types/Dataset.js';
import { DatasetLayer } from './types/DatasetLayer.js';
import { Image } from './types/Image.js';
import { ImagePage } from './types/ImagePage.js';
import { Layer } from './types/Layer.js';
import { Run, RunError } from './types/Run.js';
import { DateTime, JSONScalar } from './types/scalars.js';
import { Atlas, MapPoint, TsneMap } from './types/TsneMap.js';
import { Viewer } from './types/Viewer.js';

export const resolvers: Resolvers = {
  DateTime,
  JSON: JSONScalar,
  Query: {
    me,
    layers,
    datasets,
    dataset,
    images,
    image,
    nearestNeighbors,
    similarImages,
    tsneMap,
    compareLayers,
    layerSimilarityMatrix,
    run,
    runs,
  },
  Mutation: {
    createDataset,
    setDatasetVisibility,
    startExtraction,
    cancelRun,
    computeMap,
    computeComparison,
    computeLayerSimilarity,
  },
  Viewer,
  Layer,
  Dataset,
  DatasetLayer,
  ImagePage,
  Image,
  TsneMap,
  MapPoint,
  Atlas,
  LayerComparison,
  LayerSimilarityMatrix,
  Run,
  RunError,
};
