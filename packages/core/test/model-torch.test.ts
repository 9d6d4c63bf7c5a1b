/**
 * Parity with the PyTorch/torchvision recipe. Needs /usr/bin/python3 with torch,
 * torchvision, onnx and numpy (CI installs them); the tests fail with a clear message if
 * they are missing. Models are exported by test/parity/export_vgg16.py with random weights
 * (no download); reference activations come from test/parity/run_layers.py.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLayer, LAYERS } from '../src/layers.js';
import { FeatureModel } from '../src/model/feature-model.js';
import { cutToLayers } from '../src/model/graph-cut.js';
import { parseOnnx, readModelBytes, type onnx } from '../src/model/onnx-file.js';
import { findVgg16Layers } from '../src/model/vgg16-graph.js';
import { createRandom } from '../src/random.js';
import { exportVgg16, python, readNpy, relativeMaxError, requirePythonTorch, writeNpy } from './model-helpers.js';

const SEED = 3;
const BATCH = 2;
const PIXELS = 3 * 224 * 224;
/** Max |onnxruntime - torch| relative to the layer's max |activation|. */
const TOLERANCE = 1e-4;

let dir: string;
const paths = { features: '', zoo: '', full: '' };
const input = new Float32Array(BATCH * PIXELS);
const reference = new Map<string, Float32Array>();

beforeAll(async () => {
  await requirePythonTorch();
  dir = await mkdtemp(join(tmpdir(), 'strata-model-'));
  const random = createRandom(11);
  for (let i = 0; i < input.length; i += 1) input[i] = random.normal();
  await writeNpy(join(dir, 'input.npy'), input, [BATCH, 3, 224, 224]);
  // Sequential: the machines running this have few cores and each step is CPU-bound.
  paths.features = await exportVgg16(SEED, 'features', join(dir, 'features.onnx'));
  paths.zoo = await exportVgg16(SEED, 'zoo', join(dir, 'zoo.onnx'));
  paths.full = await exportVgg16(SEED, 'full', join(dir, 'full.onnx'));
  await python('run_layers.py', ['--model-seed', String(SEED), '--input', join(dir, 'input.npy'), '--out', join(dir, 'torch')]);
  for (const layer of LAYERS) {
    const array = await readNpy(join(dir, 'torch', `${layer.name}.npy`));
    expect(array.shape).toEqual([BATCH, ...layer.shape]);
    reference.set(layer.name, array.data);
  }
}, 600_000);

afterAll(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe('layer detection on torchvision exports', () => {
  it.each(['features', 'zoo', 'full'] as const)('finds all 18 layers in the %s variant', async (variant) => {
    const { bytes, source } = await readModelBytes(paths[variant]);
    const layout = findVgg16Layers(parseOnnx(bytes, source), source);
    expect([...layout.layers.keys()]).toEqual(LAYERS.map((l) => l.name));
    if (variant === 'zoo') {
      expect(layout.inputName).toBe('data');
      expect(layout.layers.get('conv1')?.tensor).toBe('vgg0_conv0_fwd');
      expect(layout.layers.get('conv13')?.tensor).toBe('vgg0_conv12_fwd');
      expect(layout.layers.get('pool5')?.tensor).toBe('vgg0_pool4_fwd');
    } else {
      expect(layout.inputName).toBe('input');
    }
  }, 60_000);

  it('cuts the full model (classifier included) down to the features', async () => {
    const { bytes } = await readModelBytes(paths.full);
    expect(bytes.length).toBeGreaterThan(500_000_000);
    const file = parseOnnx(bytes);
    const cut = cutToLayers(file, findVgg16Layers(file), [getLayer('pool5')]);
    const graph = onnxProto.onnx.ModelProto.decode(cut.bytes).graph as onnx.GraphProto;
    const ops = new Set(graph.node.map((n) => n.opType ?? ''));
    // Identity: torch.onnx shares equal (all-zero) biases between convs through Identity nodes.
    for (const op of ops) expect(['Conv', 'Relu', 'MaxPool', 'Identity']).toContain(op);
    expect(graph.node.filter((n) => n.opType === 'Conv')).toHaveLength(13);
    expect(graph.initializer.every((t) => !t.name?.startsWith('classifier'))).toBe(true);
    expect(cut.bytes.length).toBeLessThan(60_000_000);
  }, 60_000);

  it('cuts the zoo-like model (IR 3, initializers as inputs, batch 1) to a batch-N pool1 model', async () => {
    const { bytes } = await readModelBytes(paths.zoo);
    const file = parseOnnx(bytes);
    expect(file.graph.input.length).toBe(27);
    const cut = cutToLayers(file, findVgg16Layers(file), [getLayer('pool1')]);
    const model = onnxProto.onnx.ModelProto.decode(cut.bytes);
    const graph = model.graph as onnx.GraphProto;
    expect(graph.node.map((n) => n.opType)).toEqual(['Conv', 'Relu', 'Conv', 'Relu', 'MaxPool']);
    expect(graph.initializer.map((t) => t.name).sort()).toEqual([
      'vgg0_conv0_bias',
      'vgg0_conv0_weight',
      'vgg0_conv1_bias',
      'vgg0_conv1_weight',
    ]);
    expect(graph.input.map((i) => i.name)).toEqual(['data']);
    expect(graph.input[0]?.type?.tensorType?.shape?.dim?.[0]?.dimParam).toBe('N');
    expect(Number(model.irVersion)).toBe(4);
  }, 60_000);
});

describe('parity with torchvision', () => {
  it('matches run_layers.py on all 18 layers in one pass of the features export', async () => {
    const model = await FeatureModel.load(paths.features, { layers: LAYERS });
    try {
      const outputs = await model.run(input, BATCH);
      const rows: string[] = [];
      for (const layer of LAYERS) {
        const error = relativeMaxError(outputs.get(layer.name) as Float32Array, reference.get(layer.name) as Float32Array);
        rows.push(`${layer.name.padEnd(6)} max|diff| ${error.maxAbsDiff.toExponential(2)}  max|ref| ${error.scale.toExponential(2)}  relative ${error.relative.toExponential(2)}`);
        expect(error.relative, layer.name).toBeLessThanOrEqual(TOLERANCE);
      }
      console.log(`onnxruntime vs torchvision (seed ${SEED}, batch ${BATCH}):\n${rows.join('\n')}`);
    } finally {
      await model.dispose();
    }
  }, 120_000);

  it.each(['zoo', 'full'] as const)('gives the same numbers from the %s variant', async (variant) => {
    const layers = [getLayer('conv1'), getLayer('pool3'), getLayer('pool5')];
    const model = await FeatureModel.load(paths[variant], { layers });
    try {
      const outputs = await model.run(input, BATCH);
      for (const layer of layers) {
        const error = relativeMaxError(outputs.get(layer.name) as Float32Array, reference.get(layer.name) as Float32Array);
        expect(error.relative, `${variant} ${layer.name}`).toBeLessThanOrEqual(TOLERANCE);
      }
    } finally {
      await model.dispose();
    }
  }, 120_000);
});
