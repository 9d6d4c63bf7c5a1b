/** The mosaic render pass's uniform block (GLSL std140) and its texture binding. */
import type { Texture } from '@luma.gl/core';
import type { ShaderModule } from '@luma.gl/shadertools';

const uniformBlock = /* glsl */ `\
layout(std140) uniform mosaicUniforms {
  vec4 highlightColor;
  vec4 dimColor;
  vec2 viewCenter;
  vec2 clipScale;
  vec2 textureSize;
  float pixelsPerUnit;
  float tileSize;
  float pointCount;
  float selectionActive;
  float highlightIndex;
  float dimStrength;
} mosaic;
`;

export type MosaicUniformProps = {
  highlightColor: [number, number, number, number];
  /** What images outside the selection fade towards (the map's background). */
  dimColor: [number, number, number, number];
  /** Data point at the centre of the view. */
  viewCenter: [number, number];
  /** Data units to clip space, per axis (y flipped: data y grows downwards). */
  clipScale: [number, number];
  textureSize: [number, number];
  /** Device pixels per data unit. */
  pixelsPerUnit: number;
  tileSize: number;
  pointCount: number;
  selectionActive: number;
  highlightIndex: number;
  dimStrength: number;
};

// Types, not interfaces: luma's shader inputs take records with index signatures.
export type MosaicBindingProps = {
  sheet: Texture;
};

export type MosaicShaderProps = MosaicUniformProps & MosaicBindingProps;

export const mosaicUniforms = {
  name: 'mosaic',
  vs: uniformBlock,
  fs: uniformBlock,
  uniformTypes: {
    highlightColor: 'vec4<f32>',
    dimColor: 'vec4<f32>',
    viewCenter: 'vec2<f32>',
    clipScale: 'vec2<f32>',
    textureSize: 'vec2<f32>',
    pixelsPerUnit: 'f32',
    tileSize: 'f32',
    pointCount: 'f32',
    selectionActive: 'f32',
    highlightIndex: 'f32',
    dimStrength: 'f32',
  },
} as const satisfies ShaderModule<MosaicShaderProps>;
