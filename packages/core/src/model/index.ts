/**
 * @strata/core/model: the VGG16 ONNX model (loading, layer detection, graph cutting,
 * onnxruntime sessions, synthetic and pretrained models). Importing this subpath pulls in
 * onnxruntime-node; nothing else in @strata/core should.
 */
export { FeatureModel, type FeatureModelOptions } from './feature-model.js';
export {
  cachedPretrainedVgg16,
  defaultModelCacheDir,
  fetchPretrainedVgg16,
  ModelDownloadError,
  VGG16_ZOO_ARCHIVE,
  type FetchPretrainedOptions,
  type FetchProgress,
  type ModelArchiveSource,
} from './fetch.js';
export { BATCH_DIM, cutToLayers, type CutResult } from './graph-cut.js';
export {
  int64,
  ONNX_FLOAT,
  parseOnnx,
  readModelBytes,
  serializeOnnx,
  sha256Hex,
  type InitializerRef,
  type ModelBytes,
  type OnnxFile,
} from './onnx-file.js';
export {
  EXECUTION_PROVIDERS,
  parseExecutionProvider,
  RuntimeSession,
  type ExecutionProvider,
  type FloatTensor,
  type SessionOptions,
} from './runtime.js';
export { runtimeThreadAvailable, ThreadedRuntimeSession } from './runtime-thread.js';
export { SYNTH_BIAS_STD, synthesizeVgg16, type SynthesizeOptions } from './synth.js';
export { findVgg16Layers, NotVgg16Error, type LocatedLayer, type Vgg16Layout } from './vgg16-graph.js';
