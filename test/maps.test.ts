/**
 * `strata map` as a user runs it, on the embedded database and (with STRATA_TEST_DATABASE_URL)
 * on a Postgres server: a demo brick ingested with the synthetic model, its pool5 map computed
 * once and stored (asking again reuses it), another seed makes another map, the mosaic and the
 * atlas land under the data folder, and bad requests are one-line errors that change nothing.
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getMap, listMaps } from '@strata/core/maps';
import { demoImages, writeImageBrick } from '@strata/core/sources';
import { createScratchDatabase, openStore, type ScratchDatabase } from '@strata/core/store';
import { tsne } from '@strata/core/tsne';
import { CLI, strata, tempDir } from './helpers.js';

const COUNT = 16;
const serverUrl = process.env.STRATA_TEST_DATABASE_URL;
const backends: ('pglite' | 'postgres')[] = ['pglite', ...(serverUrl ? (['postgres'] as const) : [])];
let dir: string;
let model: string;
let brick: string;

if (process.env.CI && !serverUrl) {
  describe('strata map on postgres', () => {
    it('has a server to test against', () => {
      throw new Error('CI is set but STRATA_TEST_DATABASE_URL is not: start one with `scripts/postgres-server.sh start` and export its URL (.ci/run does)');
    });
  });
}

beforeAll(async () => {
  dir = tempDir('maps-cli');
  model = join(dir, 'synthetic.onnx');
  expect(strata(['model', 'synth', '--seed', '3', '--out', model]).status).toBe(0);
  brick = join(dir, 'stimuli.h5');
  await writeImageBrick(brick, 425, 425, demoImages(COUNT, 2));
});

interface MapJson {
  id: number;
  dataset: string;
  layer: string;
  perplexity: number;
  seed: number;
  method: string;
  status: string;
  pointCount: number;
  klDivergence: number;
  createdAt: string;
  computed: boolean;
  mosaicPath?: string;
  atlasDir?: string;
}

describe.each(backends)('strata map on %s', (backend) => {
  let data: string;
  let scratch: ScratchDatabase | undefined;
  let run: (args: readonly string[]) => SpawnSyncReturns<string>;
  const open = () => openStore({ dataDir: data, ...(scratch ? { databaseUrl: scratch.url } : {}) });

  beforeAll(async () => {
    data = join(dir, `data-${backend}`);
    mkdirSync(data, { recursive: true });
    scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl as string, 'strata_map_cli_test') : undefined;
    const { DATABASE_URL: _ignored, ...env } = process.env;
    run = (args) =>
      spawnSync(process.execPath, [CLI, ...args, '--data', data], { encoding: 'utf8', env: { ...env, ...(scratch ? { DATABASE_URL: scratch.url } : {}) }, maxBuffer: 1 << 26 });
    const ingest = run(['ingest', '--images', brick, '--name', 'demo', '--model', model, '--layers', 'pool4,pool5', '--pca', '8', '--sample', '12']);
    expect(ingest.status, ingest.stderr).toBe(0);
  });
  afterAll(async () => scratch?.drop());

  let first: MapJson;

  it('computes the map, renders its mosaic and the atlas under the data folder, and says where', () => {
    const result = run(['map', '--dataset', 'demo', '--layer', 'pool5', '--perplexity', '5', '--mosaic', '--width', '400', '--height', '300', '--tile', '40', '--atlas']);
    expect(result.status, result.stderr).toBe(0);
    const lines = result.stdout.trim().split('\n');
    expect(lines[0]).toMatch(/^map (\d+) of demo\/pool5 \(perplexity 5, seed 0, 1000 iterations, exact\): 16 images, KL \d+\.\d{4}; computed in [\d.]+ s$/);
    const id = Number(/^map (\d+)/.exec(lines[0] ?? '')?.[1]);
    const mosaic = join(data, 'maps', String(id), 'mosaic.png');
    expect(lines[1]).toBe(`mosaic: ${mosaic} (400 x 300, 16 images)`);
    expect(lines[2]).toMatch(new RegExp(`^atlas: ${join(data, 'maps')}/atlas-\\d+/atlas\\.json \\(16 images in 3 sheets\\)$`));
    expect(result.stderr).toMatch(/t-SNE: 1000\/1000 it .*KL \d+\.\d{4}/);
    expect(existsSync(mosaic)).toBe(true);
    first = JSON.parse(run(['map', '--dataset', 'demo', '--layer', 'pool5', '--perplexity', '5', '--json']).stdout) as MapJson;
    expect(first).toMatchObject({ id, dataset: 'demo', layer: 'pool5', perplexity: 5, seed: 0, method: 'exact', status: 'done', pointCount: COUNT, computed: false, mosaicPath: mosaic });
    expect(existsSync(join(first.atlasDir ?? '', 'atlas.json'))).toBe(true);
  });

  it('reuses the stored map: same id and creation time, nothing computed', () => {
    const again = run(['map', '--dataset', 'demo', '--layer', 'pool5', '--perplexity', '5', '--atlas']);
    expect(again.status, again.stderr).toBe(0);
    expect(again.stdout.split('\n')[0]).toMatch(new RegExp(`^map ${first.id} of demo/pool5 .*; stored, computed \\d{4}-\\d\\d-\\d\\dT`));
    expect(again.stdout).toContain(`mosaic: ${first.mosaicPath} (rendered earlier)`);
    expect(again.stdout).toMatch(/atlas: .*atlas\.json \(built earlier\)/);
    expect(again.stderr).not.toMatch(/t-SNE/);
    const json = JSON.parse(run(['map', '--dataset', 'demo', '--layer', 'pool5', '--perplexity', '5', '--json']).stdout) as MapJson;
    expect(json).toMatchObject({ id: first.id, createdAt: first.createdAt, klDivergence: first.klDivergence, computed: false });
  });

  it('stores the points tsne() computes from the stored vectors; another seed is another map', async () => {
    const seeded = run(['map', '--dataset', 'demo', '--layer', 'pool5', '--perplexity', '5', '--seed', '1', '--mosaic', join(dir, `seed1-${backend}.png`), '--grid', '--tile', '20']);
    expect(seeded.status, seeded.stderr).toBe(0);
    expect(seeded.stdout).toMatch(/^map \d+ of demo\/pool5 \(perplexity 5, seed 1, .*computed in/);
    expect(seeded.stdout).toContain(`mosaic: ${join(dir, `seed1-${backend}.png`)} (100 x 80, 16 images, 5 x 4 grid)`);
    expect((await sharp(join(dir, `seed1-${backend}.png`)).metadata()).width).toBe(100);
    const store = await open();
    try {
      const maps = await listMaps(store, 'demo');
      expect(maps.map((map) => map.seed)).toEqual([0, 1]);
      const stored = await getMap(store, first.id);
      const { vectors, imageIds, dimension } = await store.readVectors('demo', 'pool5');
      expect(Array.from(stored?.imageIds ?? [])).toEqual(Array.from(imageIds));
      const direct = await tsne(vectors, COUNT, dimension, { perplexity: 5, seed: 0 });
      expect(Array.from(stored?.x ?? [])).toEqual(Array.from({ length: COUNT }, (_, i) => direct.embedding[2 * i]));
      expect(Array.from(stored?.y ?? [])).toEqual(Array.from({ length: COUNT }, (_, i) => direct.embedding[2 * i + 1]));
      expect(stored?.atlasDir).toBe(first.atlasDir);
      expect(readFileSync(stored?.mosaicPath ?? '').subarray(1, 4).toString()).toBe('PNG');
    } finally {
      await store.close();
    }
  });

  it('refuses unknown datasets and layers and impossible parameters with one line, changing nothing', async () => {
    const status = () => run(['db', 'status', '--json']).stdout;
    const before = status();
    const mapCount = async () => {
      const store = await open();
      try {
        return await store.withPrisma(async (prisma) => ({ maps: await prisma.map.count(), runs: await prisma.run.count() }));
      } finally {
        await store.close();
      }
    };
    const counts = await mapCount();
    const cases: [string[], RegExp][] = [
      [['--dataset', 'nope', '--layer', 'pool5'], /^strata: unknown dataset "nope"; the store has "demo"$/],
      [['--dataset', 'demo', '--layer', 'pool3'], /^strata: dataset "demo" has no layer "pool3"; it has pool4, pool5$/],
      [['--dataset', 'demo', '--layer', 'pool5'], /^strata: perplexity 30 needs at least 31 images \(perplexity < images\); layer pool5 of dataset "demo" has 16; use a perplexity below 16$/],
      [['--dataset', 'demo', '--layer', 'pool5', '--perplexity', '5', '--method', 'umap'], /^strata: --method must be one of auto, exact, bh, fft, hybrid, got "umap"$/],
      [['--dataset', 'demo', '--layer', 'pool5', '--perplexity', '5', '--grid'], /^strata: --grid needs --mosaic$/],
      [['--dataset', 'demo', '--layer', 'pool5', '--perplexity', '5', '--images', join(dir, 'moved.h5'), '--mosaic', join(dir, 'never.png')], /^strata: the images of dataset "demo" \(.*moved\.h5\) cannot be opened: /],
    ];
    for (const [args, message] of cases) {
      const result = run(['map', ...args]);
      expect(result.status, args.join(' ')).toBe(1);
      expect(result.stderr.trim()).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(status()).toBe(before);
    expect(await mapCount()).toEqual(counts);
    expect(existsSync(join(dir, 'never.png'))).toBe(false);
  });
});
