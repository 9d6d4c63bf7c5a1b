/**
 * The model on worker threads, through the built @strata/core (vitest runs the library's own
 * tests from source, where no compiled worker exists): the same numbers as a session on the
 * calling thread, an event loop that keeps moving during a forward pass, batches from several
 * sessions written in source order, and errors that come back across the thread.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { getLayer } from '@strata/core/layers';
import { extractToDirectory } from '@strata/core/extract';
import { FeatureModel, runtimeThreadAvailable, synthesizeVgg16, ThreadedRuntimeSession } from '@strata/core/model';
import { demoImages, openImageSource, writeImageBrick } from '@strata/core/sources';
import { tempDir } from './helpers.js';

const PIXELS = 3 * 224 * 224;
let dir: string;
let model: Uint8Array;
let brick: string;

function randomInput(batch: number, seed: number): Float32Array {
  const input = new Float32Array(batch * PIXELS);
  let state = seed;
  for (let i = 0; i < input.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    input[i] = state / 2 ** 31 - 1;
  }
  return input;
}

beforeAll(async () => {
  dir = tempDir('model-thread');
  model = synthesizeVgg16({ seed: 5 });
  brick = join(dir, 'stimuli.h5');
  await writeImageBrick(brick, 425, 425, demoImages(9, 2));
});

describe('FeatureModel on worker threads', () => {
  it('is the default once the library is built', () => {
    expect(runtimeThreadAvailable()).toBe(true);
  });

  it('gives the same activations as a session on the calling thread', async () => {
    const layers = [getLayer('conv3'), getLayer('pool2')];
    const threaded = await FeatureModel.load(model, { layers });
    const inline = await FeatureModel.load(model, { layers, onWorkerThread: false });
    const input = randomInput(2, 11);
    const [a, b] = await Promise.all([threaded.run(input, 2), inline.run(input, 2)]);
    for (const layer of layers) expect(a.get(layer.name)).toEqual(b.get(layer.name));
    // The caller keeps its input: it is copied to the thread, not moved.
    expect(input.length).toBe(2 * PIXELS);
    await Promise.all([threaded.dispose(), inline.dispose()]);
  });

  it('leaves the event loop free while a batch is computed', async () => {
    const threaded = await FeatureModel.load(model, { layers: [getLayer('pool5')] });
    const input = randomInput(1, 3);
    await threaded.run(input, 1);
    let ticks = 0;
    const timer = setInterval(() => (ticks += 1), 1);
    const started = performance.now();
    await threaded.run(input, 1);
    const elapsed = performance.now() - started;
    clearInterval(timer);
    // A pool5 pass takes tens of milliseconds; on the calling thread no timer would fire.
    expect(elapsed).toBeGreaterThan(10);
    expect(ticks).toBeGreaterThan(elapsed / 10);
    await threaded.dispose();
  });

  it('writes the rows of several sessions in source order', async () => {
    const layers = [getLayer('pool1')];
    const one = await FeatureModel.load(model, { layers, sessions: 1 });
    const three = await FeatureModel.load(model, { layers, sessions: 3, threads: 1 });
    expect([one.parallelism, three.parallelism]).toEqual([1, 3]);
    const source = await openImageSource(brick);
    const outputs = [];
    for (const [name, featureModel] of [['one', one], ['three', three]] as const) {
      const outDir = join(dir, name);
      await extractToDirectory({ source, model: featureModel, modelSha256: featureModel.sha256, outDir, batchSize: 2 });
      outputs.push(readFileSync(join(outDir, 'pool1.npy')));
    }
    expect(outputs[1]?.equals(outputs[0] as Buffer)).toBe(true);
    await source.close();
    await Promise.all([one.dispose(), three.dispose()]);
  });

  it('shares the thread budget out among the sessions it chooses', async () => {
    const shallow = [getLayer('pool1')];
    const cases = [
      [shallow, 1, 1],
      [shallow, 2, 2],
      [[getLayer('pool2')], 2, 1],
    ] as const;
    for (const [layers, threads, sessions] of cases) {
      const featureModel = await FeatureModel.load(model, { layers, threads });
      expect([layers[0]?.name, threads, featureModel.parallelism]).toEqual([layers[0]?.name, threads, sessions]);
      await featureModel.dispose();
    }
  });

  it('passes onnxruntime errors back across the thread and stays usable', async () => {
    const session = await ThreadedRuntimeSession.create(model.slice());
    const [inputName] = session.inputNames;
    await expect(session.run({ not_an_input: { data: new Float32Array(PIXELS), dims: [1, 3, 224, 224] } })).rejects.toThrow(/'input' is missing in 'feeds'/);
    const outputs = await session.run({ [inputName ?? '']: { data: randomInput(1, 1), dims: [1, 3, 224, 224] } });
    expect([...outputs.values()][0]?.data.length).toBeGreaterThan(0);
    await session.dispose();
    await expect(session.run({})).rejects.toThrow(/disposed/);
  });
});
