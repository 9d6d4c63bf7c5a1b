/**
 * A synthetic map and atlas for measuring the viewer at NSD scale without a server: n points in
 * Gaussian clusters of varied spread (seeded), and thumbnail sheets drawn on the fly in the
 * atlas format (docs/mosaic.md), each image a coloured tile with a pattern, coloured by cluster.
 */
import type { AtlasJson } from './atlas-index';

export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export interface SyntheticMap {
  readonly x: Float32Array;
  readonly y: Float32Array;
  readonly cluster: Uint16Array;
}

export function syntheticMap(n: number, seed = 1, clusters = 48): SyntheticMap {
  const random = mulberry32(seed);
  const gauss = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
  const centers = Array.from({ length: clusters }, () => ({ x: random() * 100 - 50, y: random() * 75 - 37.5, s: 1.5 + random() * 6 }));
  const x = new Float32Array(n);
  const y = new Float32Array(n);
  const cluster = new Uint16Array(n);
  for (let i = 0; i < n; i++) {
    const k = Math.floor(random() * clusters);
    const c = centers[k] as { x: number; y: number; s: number };
    x[i] = c.x + gauss() * c.s;
    y[i] = c.y + gauss() * c.s;
    cluster[i] = k;
  }
  return { x, y, cluster };
}

export const SYNTHETIC_SHEET = 2048;
export const SYNTHETIC_SIZES = [32, 64, 128] as const;

/** The atlas index a real 'strata atlas' run would write for n square images. */
export function syntheticAtlas(n: number): AtlasJson {
  const sheets: { file: string; size: number; width: number; height: number; count: number }[] = [];
  const firstSheet: number[] = [];
  for (const size of SYNTHETIC_SIZES) {
    const perSheet = (SYNTHETIC_SHEET / size) ** 2;
    firstSheet.push(sheets.length);
    const count = Math.ceil(n / perSheet);
    for (let k = 0; k < count; k++) {
      const inSheet = Math.min(perSheet, n - k * perSheet);
      const rowsUsed = Math.ceil(inSheet / (SYNTHETIC_SHEET / size));
      sheets.push({ file: `${size}px-${String(k).padStart(3, '0')}.png`, size, width: SYNTHETIC_SHEET, height: rowsUsed * size, count: inSheet });
    }
  }
  const images = Array.from({ length: n }, (_, index) => ({
    index,
    id: String(index),
    tiles: SYNTHETIC_SIZES.map((size, level) => {
      const perRow = SYNTHETIC_SHEET / size;
      const perSheet = perRow * perRow;
      const k = Math.floor(index / perSheet);
      const cell = index % perSheet;
      return { sheet: (firstSheet[level] as number) + k, x: (cell % perRow) * size, y: Math.floor(cell / perRow) * size, w: size, h: size };
    }),
  }));
  return { format: 'strata-atlas', version: 1, sheetSize: SYNTHETIC_SHEET, tileSizes: [...SYNTHETIC_SIZES], sheets, images, failures: [] };
}

type Context2D = OffscreenCanvasRenderingContext2D;

/** Draws synthetic image `i` as an s x s tile at (x, y): coloured by its cluster, patterned by i. */
export function drawSyntheticTile(ctx: Context2D, i: number, x: number, y: number, s: number, cluster: Uint16Array): void {
  const hue = ((cluster[i] ?? 0) * 47) % 360;
  ctx.fillStyle = `hsl(${hue} 65% ${38 + (i % 5) * 6}%)`;
  ctx.fillRect(x, y, s, s);
  ctx.fillStyle = `hsl(${(hue + 180) % 360} 70% 70%)`;
  const pattern = i % 3;
  if (pattern === 0) {
    ctx.beginPath();
    ctx.arc(x + s / 2, y + s / 2, s * 0.3, 0, 2 * Math.PI);
    ctx.fill();
  } else if (pattern === 1) {
    ctx.fillRect(x + s * 0.15, y + s * 0.4, s * 0.7, s * 0.2);
  } else {
    ctx.fillRect(x + s * 0.4, y + s * 0.15, s * 0.2, s * 0.7);
  }
  if (s >= 64) {
    ctx.fillStyle = '#fff';
    ctx.font = `${Math.round(s / 6)}px sans-serif`;
    ctx.fillText(String(i), x + 4, y + s - 6);
  }
}

/** Draws sheet `sheet` of a synthetic atlas. */
export function drawSyntheticSheet(atlas: AtlasJson, sheet: number, cluster: Uint16Array): OffscreenCanvas {
  const info = atlas.sheets[sheet];
  if (!info) throw new RangeError(`synthetic atlas has ${atlas.sheets.length} sheets; asked for ${sheet}`);
  const canvas = new OffscreenCanvas(info.width, info.height);
  const ctx = canvas.getContext('2d') as Context2D;
  const level = atlas.tileSizes.indexOf(info.size);
  const perSheet = (SYNTHETIC_SHEET / info.size) ** 2;
  const first = (sheet - atlas.sheets.findIndex((s) => s.size === info.size)) * perSheet;
  const last = Math.min(atlas.images.length, first + perSheet);
  for (let i = first; i < last; i++) {
    const tile = (atlas.images[i] as AtlasJson['images'][number]).tiles[level] as { x: number; y: number };
    drawSyntheticTile(ctx, i, tile.x, tile.y, info.size, cluster);
  }
  return canvas;
}
