/**
 * Vertex shader of the mosaic pass: one instanced quad per image, sized by the thumbnail's aspect
 * ratio (longest side = tileSize data units), textured from its rectangle in the sheet. Depth
 * encodes draw order (the point's index in the map), so thumbnails drawn by later passes at a
 * sharper level of detail still sit under the images that cover them.
 *
 * Positions go to clip space with the pane's Viewport (centre and scale) rather than deck.gl's
 * general projection: a map is flat and Cartesian, and this is a fraction of the per-vertex work,
 * which matters with 73,000 instances on a software rasterizer.
 */
export default /* glsl */ `\
#version 300 es
#define SHADER_NAME mosaic-layer-vertex-shader

in vec2 positions;
in vec2 instancePositions;
in vec4 instanceRects;
in float instanceOrder;
in float instanceFlags;

out vec2 vTexCoord;
out vec2 vUnit;
out float vSelected;
out float vHighlight;
out vec2 vPixels;

void main(void) {
  vec2 size = instanceRects.zw;
  float longest = max(size.x, size.y);
  vec2 halfSize = longest > 0.0 ? 0.5 * mosaic.tileSize * size / longest : vec2(0.0);
  vec2 position = instancePositions + (positions * 2.0 - 1.0) * halfSize;
  geometry.worldPosition = vec3(position, 0.0);
  geometry.uv = positions;
  // Painter's order through the depth buffer: later points are nearer.
  float order = (instanceOrder + 0.5) / max(mosaic.pointCount, 1.0);
  gl_Position = vec4((position - mosaic.viewCenter) * mosaic.clipScale, 0.98 - 1.96 * order, 1.0);
  DECKGL_FILTER_GL_POSITION(gl_Position, geometry);

  // Half a texel inside the rectangle: linear filtering never reads the neighbouring thumbnail.
  vec2 inner = max(size - 1.0, vec2(0.0));
  vTexCoord = (instanceRects.xy + 0.5 + positions * inner) / mosaic.textureSize;
  vUnit = positions;
  vSelected = mod(instanceFlags, 2.0);
  vHighlight = abs(instanceOrder - mosaic.highlightIndex) < 0.5 ? 1.0 : 0.0;
  vPixels = 2.0 * halfSize * mosaic.pixelsPerUnit;
}
`;
