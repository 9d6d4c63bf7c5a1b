export { streamFeatures } from './feature-stream.js';
export type { ExtractedImage, FeatureBatch, FeatureStreamOptions } from './feature-stream.js';
export { BadImageError, extractToDirectory } from './extract-to-directory.js';
export type { ExtractProgress, ExtractSummary, ExtractToDirectoryOptions } from './extract-to-directory.js';
