/**
 * Fragment shader of the mosaic pass: the thumbnail texel; outside a linked selection, images are
 * greyed and faded towards the background (staying opaque: a blurrier pass underneath must not
 * show through); the highlighted image (hovered, focused or opened) gets an outline.
 */
export default /* glsl */ `\
#version 300 es
#define SHADER_NAME mosaic-layer-fragment-shader

precision highp float;

uniform sampler2D sheet;

in vec2 vTexCoord;
in vec2 vUnit;
in float vSelected;
in float vHighlight;
in vec2 vPixels;

out vec4 fragColor;

void main(void) {
  vec4 color = texture(sheet, vTexCoord);
  if (vHighlight > 0.5) {
    // A 2-pixel outline, drawn even over transparent margins.
    vec2 edge = min(vUnit, 1.0 - vUnit) * vPixels;
    if (min(edge.x, edge.y) < 2.0) {
      fragColor = mosaic.highlightColor;
      DECKGL_FILTER_COLOR(fragColor, geometry);
      return;
    }
  }
  if (color.a < 0.02) discard;
  if (mosaic.selectionActive > 0.5 && vSelected < 0.5) {
    float grey = dot(color.rgb, vec3(0.299, 0.587, 0.114));
    color.rgb = mix(mix(color.rgb, vec3(grey), mosaic.dimStrength), mosaic.dimColor.rgb, 0.6 * mosaic.dimStrength);
  }
  fragColor = vec4(color.rgb, color.a * layer.opacity);
  DECKGL_FILTER_COLOR(fragColor, geometry);
}
`;
