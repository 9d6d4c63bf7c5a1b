/**
 * A small, reproducible stimulus set for the demo and end-to-end tests, since no photo set
 * can be downloaded here: seeded scenes of coloured shapes, stripes and gradients in four
 * families, rendered from SVG by sharp at NSD's 425 x 425.
 */
import sharp from 'sharp';
import type { RawImage } from '../image/raw-image.js';
import { createRandom, type RandomSource } from '../random.js';

export const DEMO_IMAGE_SIZE = 425;
export const DEMO_FAMILIES = ['circles', 'stripes', 'squares', 'rings'] as const;

function colour(random: RandomSource, hueCentre: number): string {
  const hue = (hueCentre + (random.next() - 0.5) * 60 + 360) % 360;
  return `hsl(${hue.toFixed(0)}, ${(55 + random.next() * 40).toFixed(0)}%, ${(35 + random.next() * 35).toFixed(0)}%)`;
}

function scene(index: number, seed: number): string {
  const random = createRandom(seed * 100_003 + index);
  const family = DEMO_FAMILIES[index % DEMO_FAMILIES.length] as (typeof DEMO_FAMILIES)[number];
  const hue = random.next() * 360;
  const size = DEMO_IMAGE_SIZE;
  const shapes: string[] = [];
  const count = 3 + Math.floor(random.next() * 6);
  for (let i = 0; i < count; i++) {
    const x = random.next() * size;
    const y = random.next() * size;
    const r = 20 + random.next() * 90;
    const fill = colour(random, hue);
    switch (family) {
      case 'circles':
        shapes.push(`<circle cx="${x}" cy="${y}" r="${r}" fill="${fill}"/>`);
        break;
      case 'stripes':
        shapes.push(`<rect x="${-size}" y="${y}" width="${3 * size}" height="${r / 3}" fill="${fill}" transform="rotate(${random.next() * 180} ${size / 2} ${size / 2})"/>`);
        break;
      case 'squares':
        shapes.push(`<rect x="${x - r}" y="${y - r}" width="${2 * r}" height="${2 * r}" fill="${fill}" transform="rotate(${random.next() * 90} ${x} ${y})"/>`);
        break;
      case 'rings':
        shapes.push(`<circle cx="${x}" cy="${y}" r="${r}" fill="none" stroke="${fill}" stroke-width="${4 + random.next() * 14}"/>`);
        break;
      default:
        throw new RangeError(`unknown demo family ${String(family)}`);
    }
  }
  const background = [colour(random, hue + 180), colour(random, hue + 150)];
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${size}" height="${size}">
<defs><linearGradient id="g" x1="0" y1="0" x2="1" y2="1"><stop offset="0" stop-color="${background[0]}"/><stop offset="1" stop-color="${background[1]}"/></linearGradient></defs>
<rect width="${size}" height="${size}" fill="url(#g)"/>${shapes.join('')}</svg>`;
}

/** Renders demo image `index` of the set with this seed (425 x 425 RGB). */
export async function renderDemoImage(index: number, seed = 0): Promise<RawImage> {
  const { data, info } = await sharp(Buffer.from(scene(index, seed))).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: 3 };
}

/** The family (circles, stripes, squares, rings) of demo image `index`. */
export function demoFamily(index: number): string {
  return DEMO_FAMILIES[index % DEMO_FAMILIES.length] as string;
}

export async function* demoImages(count: number, seed = 0): AsyncGenerator<RawImage> {
  for (let i = 0; i < count; i++) yield await renderDemoImage(i, seed);
}
