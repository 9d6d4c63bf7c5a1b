// The package root re-exports the light, dependency-free parts; heavy ones (onnxruntime,
// sharp, h5wasm) are reached through their own subpaths so that e.g. a web app importing
// the layer catalog never loads a native runtime.
export { LAYERS, INPUT_SIZE, getLayer, parseLayerList } from './layers.js';
export type { LayerInfo, LayerKind } from './layers.js';
export { createRandom } from './random.js';
export type { RandomSource } from './random.js';
export { NpyMatrixReader, NpyRowWriter, encodeNpy, parseNpyHeader, readNpyMatrix } from './npy.js';
export type { NpyHeader } from './npy.js';
