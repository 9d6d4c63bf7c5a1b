import { existsSync, readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import onnxProto from 'onnx-proto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLayer, LAYERS } from '../src/layers.js';
import { FeatureModel } from '../src/model/feature-model.js';
import { cutToLayers } from '../src/model/graph-cut.js';
import { parseOnnx, sha256Hex } from '../src/model/onnx-file.js';
import { RuntimeSession } from '../src/model/runtime.js';
import { synthesizeVgg16 } from '../src/model/synth.js';
import { findVgg16Layers } from '../src/model/vgg16-graph.js';
import { createRandom } from '../src/random.js';

const SIZE = 224;
const PIXELS = 3 * SIZE * SIZE;
const synth = synthesizeVgg16({ seed: 5 });

function weights(name: string): Float32Array {
  const tensor = onnxProto.onnx.ModelProto.decode(synth).graph?.initializer?.find((t) => t.name === name);
  if (!tensor?.rawData) throw new Error(`no initializer ${name}`);
  return new Float32Array(Uint8Array.from(tensor.rawData).buffer);
}

function randomImages(count: number, seed: number): Float32Array {
  const random = createRandom(seed);
  const out = new Float32Array(count * PIXELS);
  for (let i = 0; i < out.length; i += 1) out[i] = random.normal();
  return out;
}

/** Plain float64 3x3 pad-1 convolution at one output position, for a CHW input of `size`. */
function convAt(
  input: (c: number, y: number, x: number) => number,
  inChannels: number,
  size: number,
  w: Float32Array,
  b: Float32Array | undefined,
  c: number,
  y: number,
  x: number,
): number {
  let sum = b ? (b[c] as number) : 0;
  for (let ci = 0; ci < inChannels; ci += 1) {
    for (let ky = 0; ky < 3; ky += 1) {
      for (let kx = 0; kx < 3; kx += 1) {
        const yy = y + ky - 1;
        const xx = x + kx - 1;
        if (yy < 0 || xx < 0 || yy >= size || xx >= size) continue;
        sum += (w[((c * inChannels + ci) * 3 + ky) * 3 + kx] as number) * input(ci, yy, xx);
      }
    }
  }
  return sum;
}

describe('FeatureModel on the synthetic model', () => {
  const images = randomImages(2, 3);
  const w1 = weights('features.0.weight');
  const b1 = weights('features.0.bias');
  const w2 = weights('features.2.weight');
  const b2 = weights('features.2.bias');
  let model: FeatureModel;
  let outputs: Map<string, Float32Array>;

  beforeAll(async () => {
    model = await FeatureModel.load(synth, { layers: [getLayer('pool1'), getLayer('conv1')], threads: 2 });
    outputs = await model.run(images, 2);
  });
  afterAll(async () => {
    await model.dispose();
  });

  it('reports its layers in network order and the sha256 of its bytes', () => {
    expect(model.layers.map((l) => l.name)).toEqual(['conv1', 'pool1']);
    expect(model.sha256).toBe(sha256Hex(synth));
    expect(model.executionProvider).toBe('cpu');
  });

  it('matches a plain JS convolution (bias included), NCHW per image', () => {
    const conv1 = outputs.get('conv1') as Float32Array;
    expect(conv1.length).toBe(2 * 64 * SIZE * SIZE);
    let biasVisible = false;
    for (const [n, c, y, x] of [
      [0, 0, 0, 0],
      [0, 17, 100, 223],
      [1, 63, 223, 0],
      [1, 5, 57, 131],
    ] as const) {
      const pixel = (ci: number, yy: number, xx: number): number => images[n * PIXELS + (ci * SIZE + yy) * SIZE + xx] as number;
      const expected = convAt(pixel, 3, SIZE, w1, b1, c, y, x);
      const actual = conv1[n * 64 * SIZE * SIZE + (c * SIZE + y) * SIZE + x] as number;
      expect(Math.abs(actual - expected)).toBeLessThan(1e-4);
      if (Math.abs(actual - convAt(pixel, 3, SIZE, w1, undefined, c, y, x)) > 1e-3) biasVisible = true;
    }
    expect(biasVisible).toBe(true);
  });

  it('computes pool1 = maxpool(relu(conv2(relu(conv1))))', () => {
    const pool1 = outputs.get('pool1') as Float32Array;
    expect(pool1.length).toBe(2 * 64 * 112 * 112);
    for (const [n, c, y, x] of [
      [0, 0, 0, 0],
      [1, 42, 111, 7],
      [0, 63, 55, 111],
    ] as const) {
      const pixel = (ci: number, yy: number, xx: number): number => images[n * PIXELS + (ci * SIZE + yy) * SIZE + xx] as number;
      const relu1 = (ci: number, yy: number, xx: number): number => Math.max(0, convAt(pixel, 3, SIZE, w1, b1, ci, yy, xx));
      let expected = -Infinity;
      for (const [dy, dx] of [[0, 0], [0, 1], [1, 0], [1, 1]] as const) {
        expected = Math.max(expected, Math.max(0, convAt(relu1, 64, SIZE, w2, b2, c, 2 * y + dy, 2 * x + dx)));
      }
      const actual = pool1[n * 64 * 112 * 112 + (c * 112 + y) * 112 + x] as number;
      expect(Math.abs(actual - expected)).toBeLessThan(1e-4 * Math.max(1, Math.abs(expected)));
    }
  });

  it('gives each image the same result alone as in a batch', async () => {
    const alone = await model.run(images.slice(PIXELS), 1);
    const batched = (outputs.get('pool1') as Float32Array).subarray(64 * 112 * 112);
    const single = alone.get('pool1') as Float32Array;
    let maxDiff = 0;
    for (let i = 0; i < single.length; i += 1) maxDiff = Math.max(maxDiff, Math.abs((single[i] as number) - (batched[i] as number)));
    expect(maxDiff).toBeLessThan(1e-5);
  });

  it('rejects input of the wrong size, naming actual and expected', async () => {
    await expect(model.run(new Float32Array(PIXELS), 2)).rejects.toThrow(
      `input must be a Float32Array of batchSize x 3 x 224 x 224 = ${2 * PIXELS} floats; got ${PIXELS} floats`,
    );
    await expect(model.run(images, 0)).rejects.toThrow('batchSize must be a positive integer; got 0');
  });

  it('computes all 18 layers in one pass with the catalog shapes', async () => {
    const all = await FeatureModel.load(synth, { layers: LAYERS });
    try {
      const result = await all.run(images.subarray(0, PIXELS), 1);
      expect([...result.keys()]).toEqual(LAYERS.map((l) => l.name));
      for (const layer of LAYERS) expect(result.get(layer.name)?.length).toBe(layer.dimension);
      // Same weights, same image: conv1 agrees with the two-layer model.
      const conv1 = result.get('conv1') as Float32Array;
      const reference = (outputs.get('conv1') as Float32Array).subarray(0, conv1.length);
      let maxDiff = 0;
      for (let i = 0; i < conv1.length; i += 1) maxDiff = Math.max(maxDiff, Math.abs((conv1[i] as number) - (reference[i] as number)));
      expect(maxDiff).toBeLessThan(1e-5);
    } finally {
      await all.dispose();
    }
  }, 60_000);

  it('rejects an empty or unknown layer list', async () => {
    await expect(FeatureModel.load(synth, { layers: [] })).rejects.toThrow(/options.layers must name at least one layer/);
    await expect(FeatureModel.load(synth, { layers: [{ ...getLayer('pool1'), name: 'pool9' }] })).rejects.toThrow(
      /Unknown layers pool9; expected some of conv1, /,
    );
  });
});

describe('RuntimeSession', () => {
  const file = parseOnnx(synth);
  const cut = cutToLayers(file, findVgg16Layers(file), [getLayer('conv1')]);

  // CI machines with onnxruntime-node's CUDA binaries installed would create the session.
  const ortDir = join(dirname(createRequire(import.meta.url).resolve('onnxruntime-node')), '..', 'bin');
  const hasCudaLibrary = (dir: string): boolean =>
    existsSync(dir) &&
    readdirSync(dir, { recursive: true, encoding: 'utf8' }).some((name) => name.includes('onnxruntime_providers_cuda'));

  it('explains how to get CUDA when it is not installed, and runs on it when it is', async () => {
    if (!hasCudaLibrary(ortDir)) {
      const attempt = RuntimeSession.create(cut.bytes, { executionProvider: 'cuda' });
      await expect(attempt).rejects.toThrow(/CUDA execution provider is not available in this onnxruntime-node install/);
      await expect(RuntimeSession.create(cut.bytes, { executionProvider: 'cuda' })).rejects.toThrow(
        /--onnxruntime-node-install=cuda12.*ONNXRUNTIME_NODE_INSTALL=cuda12/,
      );
      return;
    }
    // With the CUDA binaries installed (a GPU worker's image) the session must really run there.
    const session = await RuntimeSession.create(cut.bytes, { executionProvider: 'cuda' });
    expect(session.executionProvider).toBe('cuda');
    const out = await session.run({ input: { data: new Float32Array(PIXELS), dims: [1, 3, SIZE, SIZE] } });
    expect(out.get('/features/features.0/Conv_output_0')?.dims).toEqual([1, 64, SIZE, SIZE]);
    await session.dispose();
  });

  it('lists the valid providers for an unknown one', async () => {
    await expect(RuntimeSession.create(cut.bytes, { executionProvider: 'tpu' as 'cpu' })).rejects.toThrow(
      'Unknown execution provider "tpu"; expected one of cpu, cuda',
    );
  });

  it('rejects bad thread counts', async () => {
    await expect(RuntimeSession.create(cut.bytes, { intraOpThreads: 0 })).rejects.toThrow('intraOpThreads must be a positive integer; got 0');
  });

  it('runs and disposes', async () => {
    const session = await RuntimeSession.create(cut.bytes, { intraOpThreads: 1, interOpThreads: 1 });
    expect(session.inputNames).toEqual(['input']);
    const out = await session.run({ input: { data: new Float32Array(PIXELS), dims: [1, 3, SIZE, SIZE] } });
    expect(out.get('/features/features.0/Conv_output_0')?.dims).toEqual([1, 64, SIZE, SIZE]);
    await session.dispose();
    await session.dispose();
    await expect(session.run({})).rejects.toThrow('This session has been disposed');
  });
});
