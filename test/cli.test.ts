/**
 * The strata command line as a user runs it: the layer catalog, synthetic models, extraction
 * from HDF5 and folders, resuming after kill -9, bad images, and clear errors.
 */
import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { copyFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { NpyMatrixReader } from '@strata/core';
import { demoImages, writeImageBrick } from '@strata/core/sources';
import { CLI, SKIMAGE_DATA, python, strata, tempDir } from './helpers.js';

const COUNT = 20;
let dir: string;
let model: string;
let brick: string;

const sha256 = (path: string): string => createHash('sha256').update(readFileSync(path)).digest('hex');

interface ImagesJson {
  rows: { index: number; id: string }[];
  failures: { index: number; id: string; error: string }[];
  layers: { name: string; dimension: number }[];
}
const readImagesJson = (out: string): ImagesJson => JSON.parse(readFileSync(join(out, 'images.json'), 'utf8')) as ImagesJson;

beforeAll(async () => {
  dir = tempDir('cli');
  model = join(dir, 'synthetic.onnx');
  const synth = strata(['model', 'synth', '--seed', '3', '--out', model]);
  expect(synth.status, synth.stderr).toBe(0);
  brick = join(dir, 'stimuli.h5');
  await writeImageBrick(brick, 425, 425, demoImages(COUNT, 1));
});

describe('strata layers', () => {
  it('prints the 18-layer catalog with shapes and sizes', () => {
    const table = strata(['layers']);
    expect(table.status).toBe(0);
    const lines = table.stdout.trim().split('\n');
    expect(lines).toHaveLength(19);
    expect(table.stdout).toMatch(/pool1\s+pool\s+4\s+64x112x112\s+802,816/);
    expect(table.stdout).toMatch(/conv13\s+conv\s+28\s+512x14x14\s+100,352/);
    const json = JSON.parse(strata(['layers', '--json']).stdout) as { name: string; featuresIndex: number }[];
    expect(json.map((layer) => layer.featuresIndex)).toEqual([0, 2, 4, 5, 7, 9, 10, 12, 14, 16, 17, 19, 21, 23, 24, 26, 28, 30]);
  });
});

describe('strata model synth', () => {
  it('is deterministic for a seed and differs across seeds', () => {
    const again = join(dir, 'again.onnx');
    const other = join(dir, 'other.onnx');
    expect(strata(['model', 'synth', '--seed', '3', '--out', again]).status).toBe(0);
    expect(strata(['model', 'synth', '--seed', '4', '--out', other]).status).toBe(0);
    expect(sha256(again)).toBe(sha256(model));
    expect(sha256(other)).not.toBe(sha256(model));
  });
});

describe('strata model fetch', () => {
  it('fails offline with the URL, checksum and the exact place to put the file by hand', () => {
    const cache = join(dir, 'cache');
    const run = strata(['model', 'fetch', 'vgg16', '--cache', cache, '--mirror', 'http://127.0.0.1:9/vgg16-7.tar.gz']);
    expect(run.status).toBe(1);
    expect(run.stderr).toMatch(/could not connect to 127\.0\.0\.1/i);
    expect(run.stderr).toContain('sha256 586413f9108e2316ebf80c3aa484d55f995d693b153e4c90742750519a9e27be');
    expect(run.stderr).toContain(join(cache, 'vgg16-7.tar.gz'));
    expect(run.stderr).toContain(join(cache, 'vgg16-7.onnx'));
    expect(existsSync(join(cache, 'vgg16-7.onnx'))).toBe(false);
  });
});

describe('strata extract', () => {
  it('writes N x D float32 .npy files that numpy loads, and images.json', () => {
    const out = join(dir, 'plain');
    const run = strata(['extract', '--model', model, '--images', brick, '--layers', 'pool5,pool1', '--out', out, '--batch-size', '4']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/20 images x 2 layer\(s\)/);
    const shapes = python(['-c', 'import numpy as np, sys; [print(np.load(p).dtype, np.load(p).shape) for p in sys.argv[1:]]', join(out, 'pool1.npy'), join(out, 'pool5.npy')]);
    expect(shapes.trim().split('\n')).toEqual(['float32 (20, 802816)', 'float32 (20, 25088)']);
    const images = readImagesJson(out);
    expect(images.rows.map((row) => row.id)).toEqual(Array.from({ length: COUNT }, (_, i) => String(i)));
    expect(images.layers.map((layer) => layer.name)).toEqual(['pool1', 'pool5']);
  });

  it('gives the same rows whatever the batch size, and --limit takes the first N', () => {
    const out = join(dir, 'limited');
    const run = strata(['extract', '--model', model, '--images', brick, '--layers', 'pool5', '--limit', '5', '--batch-size', '3', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    const limited = new NpyMatrixReader(join(out, 'pool5.npy'));
    const full = new NpyMatrixReader(join(dir, 'plain', 'pool5.npy'));
    expect(limited.rows).toBe(5);
    const a = limited.readAll();
    const b = full.readRows(0, 5);
    let maxDiff = 0;
    for (let i = 0; i < a.length; i++) maxDiff = Math.max(maxDiff, Math.abs((a[i] as number) - (b[i] as number)));
    expect(maxDiff).toBeLessThan(1e-4);
    limited.close();
    full.close();
  });

  it('continues after kill -9 and ends with exactly the rows of an uninterrupted run', async () => {
    const out = join(dir, 'killed');
    const args = [CLI, 'extract', '--model', model, '--images', brick, '--layers', 'pool1,pool5', '--out', out, '--batch-size', '2', '--checkpoint-interval', '0'];
    const child = spawn(process.execPath, args, { stdio: 'ignore' });
    const checkpoint = join(out, 'checkpoint.json');
    let killedAt = -1;
    while (killedAt < 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (!existsSync(checkpoint)) continue;
      try {
        const { nextIndex } = JSON.parse(readFileSync(checkpoint, 'utf8')) as { nextIndex: number };
        if (nextIndex >= 6) {
          child.kill('SIGKILL');
          killedAt = nextIndex;
        }
      } catch {
        // The checkpoint is replaced by rename; a read can race with it.
      }
    }
    await new Promise((resolve) => child.once('exit', resolve));
    expect(killedAt).toBeLessThan(COUNT);

    const resumed = strata(args.slice(1));
    expect(resumed.status, resumed.stderr).toBe(0);
    expect(resumed.stdout).toMatch(/continued an interrupted run/);
    for (const layer of ['pool1', 'pool5']) {
      const a = new NpyMatrixReader(join(out, `${layer}.npy`));
      const b = new NpyMatrixReader(join(dir, 'plain', `${layer}.npy`));
      expect(a.rows).toBe(COUNT);
      const x = a.readAll();
      const y = b.readAll();
      let maxDiff = 0;
      for (let i = 0; i < x.length; i++) maxDiff = Math.max(maxDiff, Math.abs((x[i] as number) - (y[i] as number)));
      expect(maxDiff, layer).toBeLessThan(1e-4);
      a.close();
      b.close();
    }
    expect(readImagesJson(out).rows.map((row) => Number(row.id))).toEqual(Array.from({ length: COUNT }, (_, i) => i));
  });

  it('skips a corrupt image in a folder, naming its path, and records it', () => {
    const photos = join(dir, 'photos');
    mkdirSync(join(photos, 'sub'), { recursive: true });
    copyFileSync(join(SKIMAGE_DATA, 'chelsea.png'), join(photos, 'a-chelsea.png'));
    writeFileSync(join(photos, 'b-broken.jpg'), Buffer.from('this is not a jpeg'));
    copyFileSync(join(SKIMAGE_DATA, 'rocket.jpg'), join(photos, 'sub', 'c-rocket.jpg'));
    const out = join(dir, 'photos-out');
    const run = strata(['extract', '--model', model, '--images', photos, '--layers', 'pool5', '--out', out]);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stderr).toMatch(/b-broken\.jpg/);
    const images = readImagesJson(out);
    expect(images.rows.map((row) => row.id)).toEqual(['a-chelsea.png', 'sub/c-rocket.jpg']);
    expect(images.failures).toHaveLength(1);
    expect(images.failures[0]?.id).toBe('b-broken.jpg');
    expect(new NpyMatrixReader(join(out, 'pool5.npy')).rows).toBe(2);

    const stopped = strata(['extract', '--model', model, '--images', photos, '--layers', 'pool5', '--out', join(dir, 'stopped'), '--stop-on-error']);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toMatch(/image 1 \(b-broken\.jpg\)/);
  });

  it('refuses bad arguments with clear errors and leaves earlier results alone', () => {
    const unknownLayer = strata(['extract', '--model', model, '--images', brick, '--layers', 'pool6', '--out', join(dir, 'x')]);
    expect(unknownLayer.status).toBe(1);
    expect(unknownLayer.stderr).toMatch(/Unknown layer "pool6"; expected one of conv1, conv2/);

    const missing = strata(['extract', '--model', model, '--images', join(dir, 'nope.h5'), '--layers', 'pool5', '--out', join(dir, 'x')]);
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/nope\.h5/);

    const before = sha256(join(dir, 'plain', 'pool5.npy'));
    const clash = strata(['extract', '--model', model, '--images', brick, '--layers', 'pool5', '--limit', '2', '--out', join(dir, 'plain')]);
    expect(clash.status).toBe(1);
    expect(clash.stderr).toMatch(/holds a different extraction .*--overwrite/);
    expect(sha256(join(dir, 'plain', 'pool5.npy'))).toBe(before);

    const cuda = strata(['extract', '--model', model, '--images', brick, '--layers', 'pool5', '--device', 'cuda', '--out', join(dir, 'cuda')]);
    expect(cuda.status).toBe(1);
    expect(cuda.stderr).toMatch(/CUDA/);
  });
});
