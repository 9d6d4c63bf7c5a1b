/**
 * The mosaic render pass as a deck.gl layer: instanced thumbnails from one texture (the overview
 * or one atlas sheet), attributes given as typed columns (no per-object accessors), so a pass of
 * 73,000 images costs one upload and one draw call.
 */
import { Layer, picking, project32, type DefaultProps, type LayerProps, type UpdateParameters } from '@deck.gl/core';
import type { Texture } from '@luma.gl/core';
import { Geometry, Model } from '@luma.gl/engine';
import fs from './mosaic-layer.fs.glsl';
import vs from './mosaic-layer.vs.glsl';
import { mosaicUniforms, type MosaicShaderProps } from './mosaic-uniforms';

export interface MosaicColumns {
  readonly length: number;
  readonly attributes: {
    /** x, y per image (data units). */
    readonly instancePositions: Float32Array;
    /** x, y, w, h of the thumbnail in the texture, texels. */
    readonly instanceRects: Float32Array;
    /** The image's index in the map (draw order, highlight id). */
    readonly instanceOrder: Float32Array;
    /** Bit 0: in the selection. */
    readonly instanceFlags: Float32Array;
  };
}

export interface MosaicLayerProps extends LayerProps {
  readonly data: MosaicColumns;
  readonly texture: Texture | null;
  readonly tileSize: number;
  readonly pointCount: number;
  readonly selectionActive: boolean;
  readonly highlightIndex: number;
  readonly highlightColor: [number, number, number, number];
  readonly dimColor: [number, number, number, number];
  readonly dimStrength: number;
  /** The pane's view: data point at its centre, CSS pixels per data unit, size in CSS pixels. */
  readonly view: { centerX: number; centerY: number; scale: number; width: number; height: number };
}

const defaultProps: DefaultProps<MosaicLayerProps> = {
  texture: null,
  tileSize: { type: 'number', value: 0.01, min: 0 },
  pointCount: { type: 'number', value: 1, min: 1 },
  selectionActive: false,
  highlightIndex: { type: 'number', value: -1 },
  highlightColor: { type: 'color', value: [255, 196, 0, 255] },
  dimColor: { type: 'color', value: [230, 227, 222, 255] },
  dimStrength: { type: 'number', value: 0.85, min: 0, max: 1 },
  view: { type: 'object', value: { centerX: 0, centerY: 0, scale: 1, width: 1, height: 1 }, compare: true },
};

export class MosaicLayer extends Layer<MosaicLayerProps> {
  static override layerName = 'MosaicLayer';
  static override defaultProps = defaultProps;

  declare state: { model?: Model };

  override getShaders() {
    return super.getShaders({ vs, fs, modules: [project32, picking, mosaicUniforms] });
  }

  override initializeState(): void {
    this.getAttributeManager()?.addInstanced({
      instancePositions: { size: 2, type: 'float32', noAlloc: true },
      instanceRects: { size: 4, type: 'float32', noAlloc: true },
      instanceOrder: { size: 1, type: 'float32', noAlloc: true },
      instanceFlags: { size: 1, type: 'float32', noAlloc: true },
    });
  }

  override updateState(params: UpdateParameters<this>): void {
    super.updateState(params);
    if (params.changeFlags.extensionsChanged) {
      this.state.model?.destroy();
      this.state.model = this.#createModel();
      this.getAttributeManager()?.invalidateAll();
    }
  }

  override draw(): void {
    const { model } = this.state;
    const { texture } = this.props;
    if (!model || !texture || this.props.data.length === 0) return;
    const { view } = this.props;
    const props: MosaicShaderProps = {
      sheet: texture,
      viewCenter: [view.centerX, view.centerY],
      clipScale: [(2 * view.scale) / Math.max(1, view.width), (-2 * view.scale) / Math.max(1, view.height)],
      pixelsPerUnit: view.scale * (this.context.device.canvasContext?.getDevicePixelRatio?.() ?? window.devicePixelRatio ?? 1),
      textureSize: [texture.width, texture.height],
      tileSize: this.props.tileSize,
      pointCount: this.props.pointCount,
      selectionActive: this.props.selectionActive ? 1 : 0,
      highlightIndex: this.props.highlightIndex,
      highlightColor: this.props.highlightColor.map((c) => c / 255) as [number, number, number, number],
      dimColor: this.props.dimColor.map((c) => c / 255) as [number, number, number, number],
      dimStrength: this.props.dimStrength,
    };
    model.shaderInputs.setProps({ mosaic: props });
    model.draw(this.context.renderPass);
  }

  #createModel(): Model {
    return new Model(this.context.device, {
      ...this.getShaders(),
      id: this.props.id,
      bufferLayout: this.getAttributeManager()?.getBufferLayouts() ?? [],
      geometry: new Geometry({
        topology: 'triangle-strip',
        attributes: { positions: { size: 2, value: new Float32Array([0, 0, 1, 0, 0, 1, 1, 1]) } },
      }),
      isInstanced: true,
    });
  }
}
