#!/usr/bin/env node
// `npm run demo`: builds Strata, gets a VGG16 model (the cached pretrained one, else a
// synthetic one since this machine may be offline), writes a small NSD-style HDF5 brick,
// extracts pool1 and pool5 with the `strata` CLI, and prints what came out.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const demo = join(root, 'demo');
const count = Number(process.env.STRATA_DEMO_IMAGES ?? 48);

function run(command, args) {
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });
  if (result.status !== 0) process.exit(result.status ?? 1);
}

console.log('1/4 building');
run('npx', ['turbo', 'run', 'build', '--output-logs=errors-only']);
mkdirSync(demo, { recursive: true });

const { cachedPretrainedVgg16 } = await import('@strata/core/model');
const { demoFamily, demoImages, writeImageBrick } = await import('@strata/core/sources');
const { NpyMatrixReader } = await import('@strata/core');

let model = cachedPretrainedVgg16();
if (model) {
  console.log(`2/4 using the pretrained model ${model}`);
} else {
  model = join(demo, 'vgg16-synthetic-seed0.onnx');
  console.log('2/4 no pretrained model cached (`npx strata model fetch vgg16` downloads it); writing a synthetic VGG16');
  if (!existsSync(model)) run('npx', ['strata', 'model', 'synth', '--seed', '0', '--out', model]);
}

const brick = join(demo, 'stimuli.h5');
console.log(`3/4 writing ${count} demo images (425 x 425, four families of scenes) to ${brick}`);
await writeImageBrick(brick, 425, 425, demoImages(count, 0));

const out = join(demo, 'features');
console.log('4/4 extracting pool1 and pool5');
rmSync(out, { recursive: true, force: true });
run('npx', ['strata', 'extract', '--model', model, '--images', brick, '--layers', 'pool1,pool5', '--out', out]);

// What a researcher looks at first: does each image's nearest neighbour share its family?
for (const layer of ['pool1', 'pool5']) {
  const reader = new NpyMatrixReader(join(out, `${layer}.npy`));
  const features = reader.readAll();
  const { rows, columns } = reader;
  reader.close();
  const norms = new Float64Array(rows);
  for (let i = 0; i < rows; i++) {
    let s = 0;
    for (let k = 0; k < columns; k++) s += features[i * columns + k] ** 2;
    norms[i] = Math.sqrt(s);
  }
  let same = 0;
  for (let i = 0; i < rows; i++) {
    let best = -1;
    let bestCos = -Infinity;
    for (let j = 0; j < rows; j++) {
      if (j === i) continue;
      let dot = 0;
      for (let k = 0; k < columns; k++) dot += features[i * columns + k] * features[j * columns + k];
      const cos = dot / (norms[i] * norms[j]);
      if (cos > bestCos) [bestCos, best] = [cos, j];
    }
    if (demoFamily(best) === demoFamily(i)) same += 1;
  }
  console.log(`${layer}: ${rows} x ${columns} float32; nearest neighbour (cosine) in the same scene family for ${same}/${rows} images`);
}
if (!cachedPretrainedVgg16()) {
  console.log('(synthetic weights carry no learned meaning, so scene families sit near chance, 1 in 4; with `npx strata model fetch vgg16` the same run uses ImageNet weights)');
}
console.log(`\nLoad them in Python:  import numpy as np, json; X = np.load("${join(out, 'pool5.npy')}"); ids = json.load(open("${join(out, 'images.json')}"))["rows"]`);
