/**
 * `strata ingest`, `strata neighbors` and `strata db` as a user runs them, on the embedded
 * database and (with STRATA_TEST_DATABASE_URL) on a Postgres server: one resumable run from an
 * HDF5 brick to searchable vectors, kill -9 at any moment and rerun, clear errors that leave
 * the store as it was.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImages, writeImageBrick } from '@strata/core/sources';
import { createScratchDatabase, openStore, type ScratchDatabase } from '@strata/core/store';
import { CLI, strata, tempDir } from './helpers.js';

/** The environment of a CLI run: DATABASE_URL only when a test sets it. */
function cliEnv(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { DATABASE_URL: _ignored, ...rest } = process.env;
  return { ...rest, ...env };
}

const COUNT = 16;
const serverUrl = process.env.STRATA_TEST_DATABASE_URL;
const backends: ('pglite' | 'postgres')[] = ['pglite', ...(serverUrl ? (['postgres'] as const) : [])];
let dir: string;
let model: string;
let otherModel: string;
let brick: string;

beforeAll(async () => {
  dir = tempDir('store-cli');
  model = join(dir, 'synthetic.onnx');
  otherModel = join(dir, 'other.onnx');
  expect(strata(['model', 'synth', '--seed', '3', '--out', model]).status).toBe(0);
  expect(strata(['model', 'synth', '--seed', '4', '--out', otherModel]).status).toBe(0);
  brick = join(dir, 'stimuli.h5');
  await writeImageBrick(brick, 425, 425, demoImages(COUNT, 2));
});

if (process.env.CI && !serverUrl) {
  describe('strata ingest on postgres', () => {
    it('has a server to test against', () => {
      throw new Error('CI is set but STRATA_TEST_DATABASE_URL is not: start one with `scripts/postgres-server.sh start` and export its URL (.ci/run does)');
    });
  });
}

/** Runs the CLI against one backend: a data folder, plus DATABASE_URL for the server. */
function runner(env: Record<string, string> = {}) {
  return (args: readonly string[]): SpawnSyncReturns<string> =>
    spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: cliEnv(env), maxBuffer: 1 << 26 });
}

const ingestArgs = (data: string, extra: readonly string[] = []) => [
  'ingest', '--images', brick, '--name', 'demo', '--model', model, '--layers', 'pool4,pool5', '--pca', '8', '--sample', '12', '--data', data, ...extra,
];

interface StatusJson {
  datasets: { name: string; storedImages: number; layers: { layer: string; status: string; vectorCount: number; components: number; indexes: string[] }[] }[];
}

describe.each(backends)('strata ingest and neighbors on %s', (backend) => {
  let data: string;
  let scratch: ScratchDatabase | undefined;
  let run: ReturnType<typeof runner>;

  beforeAll(async () => {
    data = join(dir, `data-${backend}`);
    mkdirSync(data, { recursive: true });
    scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl as string, 'strata_cli_test') : undefined;
    run = runner(scratch ? { DATABASE_URL: scratch.url } : {});
    const migrate = run(['db', 'migrate', '--data', data]);
    expect(migrate.status, migrate.stderr).toBe(0);
    expect(migrate.stdout).toMatch(/applied \d+_feature_store/);
    expect(run(['db', 'migrate', '--data', data]).stdout).toMatch(/is up to date/);
  });
  afterAll(async () => scratch?.drop());

  it('ingests an HDF5 brick: PCA per layer, one vector per image and layer, HNSW indexes', () => {
    const result = run(ingestArgs(data));
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(new RegExp(`dataset "demo": ${COUNT} images`));
    expect(result.stdout).toMatch(new RegExp(`pool4: ${COUNT} vectors x 8`));
    expect(result.stdout).toMatch(new RegExp(`pool5: ${COUNT} vectors x 8`));
    const status = JSON.parse(run(['db', 'status', '--json', '--data', data]).stdout) as StatusJson;
    expect(status.datasets).toHaveLength(1);
    expect(status.datasets[0]?.storedImages).toBe(COUNT);
    for (const layer of status.datasets[0]?.layers ?? []) {
      expect(layer).toMatchObject({ status: 'ready', vectorCount: COUNT, components: 8, indexes: ['cosine', 'l2'] });
    }
    const again = run(ingestArgs(data));
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout).toMatch(/already holds pool4, pool5 \(16 images\); nothing to do/);
  });

  it('prints the nearest images with distances, HNSW agreeing with exact search', () => {
    const text = run(['neighbors', '--dataset', 'demo', '--layer', 'pool5', '--image', '5', '-k', '4', '--data', data]);
    expect(text.status, text.stderr).toBe(0);
    expect(text.stdout.split('\n')[0]).toBe('4 nearest to image 5 in demo/pool5 (cosine, hnsw)');
    expect(text.stdout.trim().split('\n')).toHaveLength(6);
    const json = (args: string[]) => JSON.parse(run([...args, '--json', '--data', data]).stdout) as { neighbors: { image: { sourceId: string }; distance: number }[] };
    for (const metric of ['cosine', 'l2']) {
      const hnsw = json(['neighbors', '--dataset', 'demo', '--layer', 'pool5', '--image', '5', '-k', '15', '--metric', metric]);
      const exact = json(['neighbors', '--dataset', 'demo', '--layer', 'pool5', '--image', '5', '-k', '15', '--metric', metric, '--exact']);
      expect(hnsw.neighbors.map((n) => n.image.sourceId)).toEqual(exact.neighbors.map((n) => n.image.sourceId));
      expect(hnsw.neighbors).toHaveLength(COUNT - 1);
      expect(hnsw.neighbors.map((n) => n.image.sourceId)).not.toContain('5');
      const distances = exact.neighbors.map((n) => n.distance);
      expect(distances).toEqual([...distances].sort((a, b) => a - b));
    }
  });

  it('refuses bad input with a clear error and leaves the store unchanged', () => {
    const before = run(['db', 'status', '--json', '--data', data]).stdout;
    const cases: [string[], RegExp][] = [
      [['neighbors', '--dataset', 'nope', '--layer', 'pool5', '--image', '1'], /^strata: unknown dataset "nope"; the store has "demo"$/m],
      [['neighbors', '--dataset', 'demo', '--layer', 'pool3', '--image', '1'], /^strata: dataset "demo" has no layer "pool3"; it has pool4, pool5$/m],
      [['neighbors', '--dataset', 'demo', '--layer', 'pool5', '--image', '99'], /^strata: dataset "demo" has no image with id "99"; it has 16 images/m],
      [['neighbors', '--dataset', 'demo', '--layer', 'pool5', '--image', '1', '--metric', 'dot'], /unknown metric "dot"; expected one of cosine, l2/],
      [ingestArgs(data, ['--model', otherModel]), /dataset "demo" was built with model synthetic\.onnx \(sha256 [0-9a-f]{12}…\); other\.onnx has sha256 [0-9a-f]{12}…/],
      [ingestArgs(data, ['--pca', '6']), /layer pool4 of dataset "demo" holds 8-component PCA vectors; --pca 6 would mix sizes; use --pca 8/],
      [ingestArgs(data, ['--limit', '10']), /dataset "demo" holds .*stimuli\.h5 \(16 images\); this ingest reads .*stimuli\.h5 \(10 images\)/],
      [ingestArgs(data, ['--layers', 'pool9']), /Unknown layer "pool9"/],
    ];
    for (const [args, message] of cases) {
      const result = run([...args, '--data', data]);
      expect(result.status, args.join(' ')).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(run(['db', 'status', '--json', '--data', data]).stdout).toBe(before);
  });
});

/** Starts an ingest and SIGKILLs it as soon as its progress output matches `when`. */
function ingestKilledWhen(args: readonly string[], when: RegExp): Promise<{ killed: boolean; output: string }> {
  return new Promise((resolvePromise, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'], env: cliEnv() });
    let output = '';
    let killed = false;
    const watch = (chunk: Buffer): void => {
      output += chunk.toString();
      if (!killed && when.test(output)) {
        killed = true;
        child.kill('SIGKILL');
      }
    };
    child.stdout.on('data', watch);
    child.stderr.on('data', watch);
    child.on('error', reject);
    child.on('close', () => resolvePromise({ killed, output }));
  });
}

describe('strata ingest after kill -9', () => {
  it('loses nothing committed and completes with exactly one vector per image and layer', async () => {
    const data = join(dir, 'data-killed');
    const args = ingestArgs(data);
    // Killed while extracting the PCA sample, while fitting PCA, then while storing vectors
    // (after a committed batch).
    for (const when of [/sample: [1-9]\d*\/12 img/, /PCA pool4 /, /store: [1-9]\d*\/16 img/]) {
      const killed = await ingestKilledWhen(args, when);
      expect(killed.killed, killed.output).toBe(true);
    }
    // The embedded database after a kill -9 holds part of the run, and opens cleanly.
    const middle = await openStore({ dataDir: data });
    try {
      const layer = await middle.getLayer('demo', 'pool5');
      expect(layer.status).toBe('ingesting');
      expect(layer.vectorCount).toBeGreaterThan(0);
      expect(layer.vectorCount).toBeLessThan(COUNT);
    } finally {
      await middle.close();
    }
    const run = runner();
    const third = run(args);
    expect(third.status, third.stderr).toBe(0);
    expect(third.stdout).toMatch(/continued an interrupted ingest; dataset "demo": 16 images/);
    // Same vectors as an ingest that was never interrupted.
    const clean = join(dir, 'data-clean');
    expect(run(ingestArgs(clean)).status).toBe(0);
    const killed = await openStore({ dataDir: data });
    const uninterrupted = await openStore({ dataDir: clean });
    try {
      for (const layer of ['pool4', 'pool5']) {
        const a = await killed.readVectors('demo', layer);
        const b = await uninterrupted.readVectors('demo', layer);
        expect(a.imageIds.length).toBe(COUNT);
        expect(Buffer.from(a.vectors.buffer).equals(Buffer.from(b.vectors.buffer))).toBe(true);
      }
      const runs = await killed.runs('demo');
      expect(runs[0]).toMatchObject({ status: 'done', done: COUNT, total: COUNT });
    } finally {
      await killed.close();
      await uninterrupted.close();
    }
  });
});
