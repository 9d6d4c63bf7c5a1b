#!/usr/bin/env node
// Extraction speed: Strata vs the PyTorch recipe's loop (batch 1, Debian's torch), on the
// same images and the same seeded VGG16, printed as ratios with the GFLOP/s achieved (VGG16
// features: 30.7 GFLOP per image, 3.9 to pool1). Rounds alternate Strata and the recipe so
// that a machine whose speed drifts affects both alike; the median ratio is the figure.
//
//   node bench/extract/run.mjs [--images 192] [--layers pool1,pool5] [--batch-size 2] [--rounds 3]
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { getLayer } from '@strata/core/layers';
import { extractToDirectory } from '@strata/core/extract';
import { FeatureModel } from '@strata/core/model';
import { demoImages, openImageSource, writeImageBrick } from '@strata/core/sources';

const root = resolve(import.meta.dirname, '../..');
const python = process.env.STRATA_REFERENCE_PYTHON ?? '/usr/bin/python3';
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '192' },
    layers: { type: 'string', default: 'pool1,pool5' },
    'batch-size': { type: 'string', default: '2' },
    rounds: { type: 'string', default: '3' },
    verbose: { type: 'boolean', default: false },
  },
});
const count = Number(values.images);
const batchSize = Number(values['batch-size']);
const rounds = Number(values.rounds);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-extract-'));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

const model = join(dir, 'vgg16.onnx');
execFileSync(python, [join(root, 'packages/core/test/parity/export_vgg16.py'), '--seed', '0', '--variant', 'features', '--out', model]);
const brick = join(dir, 'stimuli.h5');
await writeImageBrick(brick, 425, 425, demoImages(count, 0));

async function strataRate(layer) {
  const source = await openImageSource(brick);
  const featureModel = await FeatureModel.load(model, { layers: [layer] });
  // Warm-up, not timed (the recipe does the same): one batch of the size the run uses, so that
  // onnxruntime's buffers for that shape exist before the clock starts.
  await featureModel.run(new Float32Array(batchSize * 3 * 224 * 224), batchSize);
  const out = join(dir, `out-${layer.name}`);
  const summary = await extractToDirectory({ source, model: featureModel, modelSha256: featureModel.sha256, outDir: out, batchSize });
  await featureModel.dispose();
  await source.close();
  rmSync(out, { recursive: true, force: true });
  return summary.rows / (summary.elapsedMs / 1000);
}

function recipeRate(layer) {
  const printed = execFileSync(python, [join(root, 'test/parity/recipe.py'), '--images', brick, '--layers', layer.name, '--time'], { encoding: 'utf8' });
  return Number(/([\d.]+) images\/s/.exec(printed)?.[1]);
}

console.log(`${count} images of 425 x 425 from an HDF5 brick, ${cpus().length} cores, load ${loadavg()[0].toFixed(1)}; Strata batch ${batchSize}, recipe batch 1; ${rounds} alternating rounds`);
console.log('layer   strata img/s  recipe img/s  ratio (median, min-max)  strata GFLOP/s  recipe GFLOP/s');
for (const name of values.layers.split(',')) {
  const layer = getLayer(name);
  const strata = [];
  const recipe = [];
  for (let round = 0; round < rounds; round++) {
    strata.push(await strataRate(layer));
    recipe.push(recipeRate(layer));
    if (values.verbose) console.log(`  round ${round + 1}: strata ${strata.at(-1).toFixed(2)}, recipe ${recipe.at(-1).toFixed(2)} img/s`);
  }
  const ratios = strata.map((s, i) => s / recipe[i]);
  const [s, r] = [median(strata), median(recipe)];
  console.log(
    `${name.padEnd(7)} ${s.toFixed(2).padStart(12)}  ${r.toFixed(2).padStart(12)}  ${median(ratios).toFixed(2).padStart(5)}x (${Math.min(...ratios).toFixed(2)}-${Math.max(...ratios).toFixed(2)})` +
      `${(s * layer.cumulativeGflops).toFixed(1).padStart(18)}  ${(r * layer.cumulativeGflops).toFixed(1).padStart(14)}`,
  );
}
rmSync(dir, { recursive: true, force: true });
