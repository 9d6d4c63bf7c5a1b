/**
 * Strata against the PyTorch recipe, each through its own preprocessing: the same seeded
 * torchvision VGG16 (exported to ONNX by the test), the same real photos, all 18 layers.
 */
import { copyFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { LAYERS } from '@strata/core/layers';
import { ROOT, SKIMAGE_DATA, python, strata, tempDir } from './helpers.js';

// Real photos from Debian's python3-skimage: colour and greyscale, PNG and JPEG, square,
// portrait and landscape, sizes from 300 to 640 px.
const PHOTOS = ['astronaut.png', 'camera.png', 'chelsea.png', 'coffee.png', 'motorcycle_left.png', 'rocket.jpg', 'retina.jpg'];
const SEED = 7;

let dir: string;
let model: string;

function compare(ours: string, reference: string, layers: readonly string[]): Record<string, { rows: number; minCosine: number; maxRelError: number; error?: string }> {
  return JSON.parse(
    python([join(ROOT, 'test/parity/compare.py'), '--ours', ours, '--reference', reference, '--layers', layers.join(',')]),
  ) as Record<string, { rows: number; minCosine: number; maxRelError: number; error?: string }>;
}

beforeAll(() => {
  dir = tempDir('parity');
  model = join(dir, 'vgg16.onnx');
  python([join(ROOT, 'packages/core/test/parity/export_vgg16.py'), '--seed', String(SEED), '--variant', 'features', '--out', model]);
});

describe('parity with the PyTorch recipe', () => {
  it('matches all 18 layers on a folder of real photos (cosine >= 0.9999)', () => {
    const photos = join(dir, 'photos');
    mkdirSync(photos);
    for (const name of PHOTOS) copyFileSync(join(SKIMAGE_DATA, name), join(photos, name));
    const layers = LAYERS.map((layer) => layer.name);

    const run = strata(['extract', '--model', model, '--images', photos, '--layers', 'all', '--out', join(dir, 'strata-photos'), '--batch-size', '4']);
    expect(run.stderr).not.toMatch(/skipped/);
    expect(run.status).toBe(0);
    python([join(ROOT, 'test/parity/recipe.py'), '--images', photos, '--layers', layers.join(','), '--model-seed', String(SEED), '--out', join(dir, 'recipe-photos')]);

    const result = compare(join(dir, 'strata-photos'), join(dir, 'recipe-photos'), layers);
    console.table(result);
    for (const layer of layers) {
      expect(result[layer]?.error).toBeUndefined();
      expect(result[layer]?.rows).toBe(PHOTOS.length);
      expect(result[layer]?.minCosine, layer).toBeGreaterThanOrEqual(0.9999);
    }
  });

  it('matches pool1 and pool5 on an NSD-style HDF5 brick', () => {
    const brick = join(dir, 'brick.h5');
    // NSD stores 425 x 425 crops; make a brick of PIL-resized photos the same way.
    python([
      '-c',
      `import h5py, numpy as np, sys
from PIL import Image
names = sys.argv[2:]
images = [np.asarray(Image.open("${SKIMAGE_DATA}/" + n).convert("RGB").resize((425, 425), Image.BICUBIC)) for n in names]
with h5py.File(sys.argv[1], "w") as f:
    f.create_dataset("imgBrick", data=np.stack(images), chunks=(1, 425, 425, 3), compression="gzip")`,
      brick,
      ...PHOTOS.slice(0, 4),
    ]);
    const run = strata(['extract', '--model', model, '--images', brick, '--layers', 'pool1,pool5', '--limit', '3', '--out', join(dir, 'strata-brick')]);
    expect(run.status, run.stderr).toBe(0);
    python([join(ROOT, 'test/parity/recipe.py'), '--images', brick, '--limit', '3', '--layers', 'pool1,pool5', '--model-seed', String(SEED), '--out', join(dir, 'recipe-brick')]);
    const result = compare(join(dir, 'strata-brick'), join(dir, 'recipe-brick'), ['pool1', 'pool5']);
    for (const layer of ['pool1', 'pool5']) {
      expect(result[layer]?.rows).toBe(3);
      expect(result[layer]?.minCosine, layer).toBeGreaterThanOrEqual(0.9999);
    }
  });
});
