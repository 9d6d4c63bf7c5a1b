/**
 * All data-to-pixel maths of a map pane. Data coordinates are the map's (normalized) x, y with y
 * growing downwards, as in the mosaic PNG; pixels are CSS pixels from the pane's top-left.
 * Immutable: every change returns a new Viewport.
 */

export interface Bounds {
  readonly minX: number;
  readonly minY: number;
  readonly maxX: number;
  readonly maxY: number;
}

export interface ViewportProps {
  /** Pane size in CSS pixels. */
  readonly width: number;
  readonly height: number;
  /** Data point at the pane's centre. */
  readonly centerX: number;
  readonly centerY: number;
  /** CSS pixels per data unit. */
  readonly scale: number;
}

export interface ZoomLimits {
  readonly minScale: number;
  readonly maxScale: number;
}

export class Viewport implements ViewportProps {
  readonly width: number;
  readonly height: number;
  readonly centerX: number;
  readonly centerY: number;
  readonly scale: number;

  constructor(props: ViewportProps) {
    for (const key of ['width', 'height', 'centerX', 'centerY', 'scale'] as const) {
      if (!Number.isFinite(props[key])) throw new RangeError(`Viewport ${key} must be a finite number, got ${props[key]}`);
    }
    if (!(props.scale > 0)) throw new RangeError(`Viewport scale must be positive, got ${props.scale}`);
    this.width = Math.max(0, props.width);
    this.height = Math.max(0, props.height);
    this.centerX = props.centerX;
    this.centerY = props.centerY;
    this.scale = props.scale;
  }

  /** The viewport showing `bounds` whole, centred, with `padding` (a share of the pane) around. */
  static fit(bounds: Bounds, width: number, height: number, padding = 0.04): Viewport {
    const spanX = Math.max(bounds.maxX - bounds.minX, 1e-9);
    const spanY = Math.max(bounds.maxY - bounds.minY, 1e-9);
    const usableW = Math.max(1, width * (1 - 2 * padding));
    const usableH = Math.max(1, height * (1 - 2 * padding));
    return new Viewport({
      width,
      height,
      centerX: (bounds.minX + bounds.maxX) / 2,
      centerY: (bounds.minY + bounds.maxY) / 2,
      scale: Math.min(usableW / spanX, usableH / spanY),
    });
  }

  toPixelX(x: number): number {
    return (x - this.centerX) * this.scale + this.width / 2;
  }

  toPixelY(y: number): number {
    return (y - this.centerY) * this.scale + this.height / 2;
  }

  toPixel(x: number, y: number): [number, number] {
    return [this.toPixelX(x), this.toPixelY(y)];
  }

  toData(px: number, py: number): [number, number] {
    return [(px - this.width / 2) / this.scale + this.centerX, (py - this.height / 2) / this.scale + this.centerY];
  }

  /** Data length of `pixels` CSS pixels. */
  toDataLength(pixels: number): number {
    return pixels / this.scale;
  }

  /** CSS pixels covered by a data length. */
  toPixelLength(length: number): number {
    return length * this.scale;
  }

  /** The data rectangle the pane shows, grown by `marginPx` on each side. */
  visibleBounds(marginPx = 0): Bounds {
    const [minX, minY] = this.toData(-marginPx, -marginPx);
    const [maxX, maxY] = this.toData(this.width + marginPx, this.height + marginPx);
    return { minX, minY, maxX, maxY };
  }

  withSize(width: number, height: number): Viewport {
    return new Viewport({ ...this.props(), width, height });
  }

  /** Moves the content by (dx, dy) pixels (a drag to the right shows what was on the left). */
  panBy(dxPx: number, dyPx: number): Viewport {
    return new Viewport({ ...this.props(), centerX: this.centerX - dxPx / this.scale, centerY: this.centerY - dyPx / this.scale });
  }

  centerOn(x: number, y: number): Viewport {
    return new Viewport({ ...this.props(), centerX: x, centerY: y });
  }

  /** Zooms by `factor` keeping the data point under pixel (px, py) in place. */
  zoomAt(px: number, py: number, factor: number, limits?: ZoomLimits): Viewport {
    if (!(factor > 0)) throw new RangeError(`zoom factor must be positive, got ${factor}`);
    let scale = this.scale * factor;
    if (limits) scale = Math.min(limits.maxScale, Math.max(limits.minScale, scale));
    const [x, y] = this.toData(px, py);
    return new Viewport({
      ...this.props(),
      scale,
      centerX: x - (px - this.width / 2) / scale,
      centerY: y - (py - this.height / 2) / scale,
    });
  }

  /** deck.gl's OrthographicView state for this viewport (1 data unit = 2^zoom pixels, y down). */
  deckViewState(): { target: [number, number, number]; zoom: number } {
    return { target: [this.centerX, this.centerY, 0], zoom: Math.log2(this.scale) };
  }

  props(): ViewportProps {
    return { width: this.width, height: this.height, centerX: this.centerX, centerY: this.centerY, scale: this.scale };
  }

  equals(other: Viewport | null | undefined): boolean {
    return !!other && other.width === this.width && other.height === this.height && other.centerX === this.centerX && other.centerY === this.centerY && other.scale === this.scale;
  }
}

/** Bounds of parallel coordinate columns (NaN-free input assumed). */
export function boundsOf(x: Float32Array, y: Float32Array): Bounds {
  let minX = Infinity;
  let minY = Infinity;
  let maxX = -Infinity;
  let maxY = -Infinity;
  for (let i = 0; i < x.length; i++) {
    const px = x[i] as number;
    const py = y[i] as number;
    if (px < minX) minX = px;
    if (px > maxX) maxX = px;
    if (py < minY) minY = py;
    if (py > maxY) maxY = py;
  }
  if (x.length === 0) return { minX: -0.5, minY: -0.5, maxX: 0.5, maxY: 0.5 };
  return { minX, minY, maxX, maxY };
}

export function grow(bounds: Bounds, margin: number): Bounds {
  return { minX: bounds.minX - margin, minY: bounds.minY - margin, maxX: bounds.maxX + margin, maxY: bounds.maxY + margin };
}
