/**
 * @strata/core/pca: PCA of layer activations at full layer width (up to conv1's 3,211,264
 * features) in bounded memory, the basis saved to a `.pca` file beside the database, and
 * projection of every image as it streams out of extraction. See docs/pca.md.
 *
 * onnxruntime is loaded only when a fit runs or projectAsync is called.
 */
export { fitPca, MAX_COMPONENTS, type PcaOptions, type PcaProgress } from './fit.js';
export { DEFAULT_MEMORY_BUDGET, PcaModel, type LoadPcaOptions } from './model.js';
export { PCA_FILE_FORMAT, PCA_FILE_VERSION, type PcaHeader, type PcaSolverInfo } from './format.js';
export { projectRows, type ProjectRowsOptions } from './project-rows.js';
export { selectSampleRows, type PcaSample } from './sample.js';
export { NonFiniteValueError } from './validate.js';
export { symmetricEigen, type SymmetricEigen } from './dense-eigen.js';
