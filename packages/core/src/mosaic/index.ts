// Maps of an image set: the t-SNE mosaic recipe reproduced pixel for pixel, grid layouts by
// linear assignment, and texture atlases for the browser map. Loads sharp (native) and the
// image sources, hence its own subpath (`@strata/core/mosaic`).
export { DEFAULT_MOSAIC_HEIGHT, DEFAULT_MOSAIC_WIDTH, DEFAULT_TILE, normalizeAxis, recipePositions, recipeTileSize } from './layout.js';
export type { CoordinateArray, RecipeLayoutOptions } from './layout.js';
export { DEFAULT_MAX_CANVAS_PIXELS, createCanvas, pasteTile } from './canvas.js';
export type { CanvasOptions } from './canvas.js';
export { encodeMosaicPng, renderMosaic, writeMosaicPng } from './mosaic.js';
export type { MosaicGridOptions, MosaicOptions, MosaicProgress, MosaicResult } from './mosaic.js';
export { DEFAULT_GRID_BLOCK_SIZE, DEFAULT_GRID_EXACT_LIMIT, defaultGridShape, gridLayout, gridLayoutCost } from './grid.js';
export type { GridLayoutOptions, GridShape } from './grid.js';
export { solveAssignment } from './lap.js';
export type { LapResult } from './lap.js';
export { readCoordinates, readImageRows } from './coords.js';
export type { Coordinates, ImageRows } from './coords.js';
export { streamImages } from './stream.js';
export type { StreamOptions } from './stream.js';
export { ATLAS_INDEX_FILE, buildAtlas, thumbnailSize } from './atlas.js';
export type { AtlasFormat, AtlasImage, AtlasIndex, AtlasOptions, AtlasPlacement, AtlasProgress, AtlasSheet, AtlasSummary } from './atlas.js';
