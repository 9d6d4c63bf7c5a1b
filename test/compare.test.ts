/**
 * `strata compare` end to end, on the built CLI: the file forms (two .npy files, a `strata
 * extract` folder, an external RDM against it) and the --dataset forms on the stored PCA vectors
 * of a dataset, on the embedded database and (with STRATA_TEST_DATABASE_URL) on a Postgres
 * server: a pair by all three metrics, the layer x layer matrix, a brain RDM. Each prints what the
 * library computes on the same inputs; stored results are reused by the next run; bad input is
 * one line on stderr and changes nothing. One dataset is ingested for real from an HDF5 brick.
 * Fails, not skips, when the CLI is not built (`npm test` builds first).
 */
import { spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareLayers,
  correlateRdmWithLayers,
  rdmUpperTriangle,
  validateRdm,
  type FeatureMatrix,
  type NamedFeatures,
} from '@strata/core/compare';
import { createRandom } from '@strata/core';
import { demoImages, writeImageBrick } from '@strata/core/sources';
import { createScratchDatabase, openStore, type ScratchDatabase, type Store } from '@strata/core/store';
import { CLI, ROOT, strata, tempDir } from './helpers.js';

const dir = tempDir('compare-cli');

// A test, not a beforeAll: a failing hook would only mark the tests skipped, and skips are not failures.
it('has the built CLI to run (npm test builds first)', () => {
  const built = join(ROOT, 'apps/cli/dist/commands/compare.js');
  expect(existsSync(built), `${built} is missing: the CLI is not built (npm run build)`).toBe(true);
});

const compare = (args: string[]): SpawnSyncReturns<string> => strata(['compare', ...args]);

describe('strata compare on feature files', () => {
  const out = join(dir, 'features');
  const N = 60;
  const names = ['conv2', 'pool3', 'pool5'];
  const ids = Array.from({ length: N }, (_, i) => `img_${String(i).padStart(3, '0')}.png`);
  const random = createRandom(8);
  const latent = Float64Array.from({ length: N * 4 }, () => random.normal());
  const layers: FeatureMatrix[] = names.map((_, l) => {
    const columns = 10 + 5 * l;
    const data = new Float32Array(N * columns);
    for (let r = 0; r < N; r++) for (let c = 0; c < columns; c++) data[r * columns + c] = (latent[r * 4 + (c % 4)] as number) * (1 + c) + (l + 1) * random.normal();
    return { data, rows: N, columns };
  });
  const named = names.map((name, l) => ({ name, features: layers[l] as FeatureMatrix }));
  const brainRows = Int32Array.from([5, 3, 17, 40, 22, 9, 31, 58, 12, 44, 27, 1]);

  beforeAll(async () => {
    const { encodeNpy } = await import('@strata/core/npy');
    mkdirSync(out);
    names.forEach((name, l) => writeFileSync(join(out, `${name}.npy`), encodeNpy(layers[l]?.data as Float32Array, [N, layers[l]?.columns as number])));
    writeFileSync(
      join(out, 'images.json'),
      JSON.stringify({ layers: names.map((name) => ({ name, file: `${name}.npy` })), rows: ids.map((id, index) => ({ index, id })), failures: [] }),
    );
    const m = brainRows.length;
    const upper = await rdmUpperTriangle(layers[1] as FeatureMatrix, { rows: brainRows });
    const lines = [`,${Array.from(brainRows, (r) => ids[r]).join(',')}`];
    const square = new Float64Array(m * m);
    for (let i = 0, p = 0; i < m; i++) for (let j = i + 1; j < m; j++, p++) square[i * m + j] = square[j * m + i] = (upper[p] as number) + 0.2 * random.next();
    for (let i = 0; i < m; i++) lines.push([ids[brainRows[i] as number], ...Array.from(square.subarray(i * m, i * m + m), (v) => v.toPrecision(17))].join(','));
    writeFileSync(join(dir, 'brain.csv'), `${lines.join('\n')}\n`);
  });

  it('prints {"metric","value"} for two .npy files', async () => {
    const result = compare(['--a', join(out, 'conv2.npy'), '--b', join(out, 'pool5.npy'), '--metric', 'cka-debiased']);
    expect(result.stderr).toBe('');
    const json = JSON.parse(result.stdout) as { metric: string; value: number };
    const expected = (await compareLayers([named[0] as NamedFeatures, named[2] as NamedFeatures], { metric: 'cka-debiased' })).values[1];
    expect(json.metric).toBe('cka-debiased');
    expect(json.value).toBe(expected);
    expect(JSON.parse(compare(['--a', join(out, 'conv2.npy'), '--b', join(out, 'pool5.npy'), '--metric', 'knn:4']).stdout)).toMatchObject({ metric: 'knn:4', k: 4, distance: 'cosine' });
  });

  it('prints the layer x layer matrix as JSON and CSV', async () => {
    const expected = await compareLayers(named, { metric: 'rsa' });
    const json = JSON.parse(compare(['--layer-dir', out, '--all-layers', '--metric', 'rsa']).stdout) as { layers: string[]; matrix: number[][] };
    expect(json.layers).toEqual(names);
    expect(json.matrix.flat()).toEqual(Array.from(expected.values));
    const csv = compare(['--layer-dir', out, '--all-layers', '--metric', 'rsa', '--csv', '--layers', 'pool5,conv2']).stdout.trim().split('\n');
    expect(csv[0]).toBe('layer,conv2,pool5');
    expect(csv[1]).toBe(`conv2,1,${expected.values[2]}`);
  });

  it('correlates a brain RDM (CSV) with every layer, with p-values', async () => {
    const result = compare(['--rdm', join(dir, 'brain.csv'), '--layer-dir', out, '--permutations', '300', '--seed', '2']);
    expect(result.status, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { images: number; pairs: number; layers: { layer: string; rho: number; p: number }[] };
    expect(json.images).toBe(12);
    expect(json.pairs).toBe(66);
    const m = brainRows.length;
    const square = new Float64Array(m * m);
    const text = readFileSync(join(dir, 'brain.csv'), 'utf8').trim().split('\n').slice(1);
    text.forEach((line, i) => line.split(',').slice(1).forEach((v, j) => (square[i * m + j] = Number(v))));
    const rdm = validateRdm(square, m, Array.from(brainRows, (r) => ids[r] as string), 'brain');
    const expected = await correlateRdmWithLayers(rdm, named, ids, { permutations: 300, seed: 2 });
    expect(json.layers).toEqual(expected.layers);
    expect(json.layers[1]?.p).toBeLessThan(0.05);
    const csv = compare(['--rdm', join(dir, 'brain.csv'), '--layer-dir', out, '--permutations', '50', '--csv']).stdout.trim().split('\n');
    expect(csv[0]).toBe('layer,rho,p');
    expect(csv).toHaveLength(4);
  });

  it('fails with one clear line for bad input', () => {
    const unknown = join(dir, 'unknown.csv');
    writeFileSync(unknown, ',img_001.png,nope.png,img_002.png\nimg_001.png,0,1,2\nnope.png,1,0,3\nimg_002.png,2,3,0\n');
    const result = compare(['--rdm', unknown, '--layer-dir', out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^strata: .*unknown.csv: 1 of 3 image ids are not among the 60 images with features: "nope.png"/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(compare(['--layer-dir', out, '--metric', 'cka']).stderr).toMatch(/give exactly one of/);
    expect(compare(['--a', join(out, 'conv2.npy'), '--b', join(out, 'pool5.npy'), '--metric', 'knn:x']).stderr).toMatch(/knn:K needs a positive integer K, got "x"/);
    expect(compare(['--a', join(out, 'conv2.npy'), '--b', join(out, 'pool5.npy'), '--kernel', 'gpu']).stderr).toMatch(/Unknown kernel "gpu"; expected one of auto, onnxruntime, float64/);
  });
});

// ---- --dataset: stored PCA vectors ----

const serverUrl = process.env.STRATA_TEST_DATABASE_URL;
const backends: ('pglite' | 'postgres')[] = ['pglite', ...(serverUrl ? (['postgres'] as const) : [])];

if (process.env.CI && !serverUrl) {
  describe('strata compare --dataset on postgres', () => {
    it('has a server to test against', () => {
      throw new Error('CI is set but STRATA_TEST_DATABASE_URL is not: start one with `scripts/postgres-server.sh start` and export its URL (.ci/run does)');
    });
  });
}

const IMAGES = 90;
const STORED = [
  { layer: 'conv3', dimension: 12 },
  { layer: 'pool2', dimension: 10 },
  { layer: 'pool5', dimension: 6 },
] as const;

/** A dataset "demo" of three ready layers whose vectors drift from one layer to the next, written through the store's API. */
async function storeDataset(store: Store): Promise<void> {
  const random = createRandom(21);
  let latent = Float64Array.from({ length: IMAGES * 5 }, () => random.normal());
  const vectors = STORED.map(({ dimension }) => {
    latent = latent.map((v) => 0.8 * v + 0.6 * random.normal());
    const out = new Float32Array(IMAGES * dimension);
    for (let r = 0; r < IMAGES; r++) for (let c = 0; c < dimension; c++) out[r * dimension + c] = (latent[r * 5 + (c % 5)] as number) * (1 + c) + 0.5 * random.normal();
    return out;
  });
  const imageIds = await store.withPrisma(async (prisma) => {
    const model = await prisma.model.create({ data: { name: 'synthetic.onnx', sha256: 'f'.repeat(64) } });
    const dataset = await prisma.dataset.create({ data: { name: 'demo', sourceKind: 'folder', sourcePath: '/data/photos', imageCount: IMAGES, modelId: model.id } });
    await prisma.image.createMany({ data: Array.from({ length: IMAGES }, (_, i) => ({ datasetId: dataset.id, index: i, sourceId: `photo${i}.jpg`, width: 1, height: 1 })) });
    for (const { layer, dimension } of STORED) {
      await prisma.datasetLayer.create({ data: { datasetId: dataset.id, layer, modelId: model.id, components: dimension, status: 'ready' } });
    }
    return Int32Array.from(await prisma.image.findMany({ where: { datasetId: dataset.id }, orderBy: { index: 'asc' }, select: { id: true } }), (row) => row.id);
  });
  for (const [l, { layer }] of STORED.entries()) await store.insertVectors('demo', layer, imageIds, vectors[l] as Float32Array);
}

/** The stored vectors read back (image-id order), the source ids of those rows, and the comparison rows. */
async function readStore(open: () => Promise<Store>, layers: readonly string[]) {
  const store = await open();
  try {
    const named: NamedFeatures[] = [];
    let imageIds: Int32Array = new Int32Array(0);
    for (const layer of layers) {
      const read = await store.readVectors('demo', layer);
      imageIds = read.imageIds;
      named.push({ name: layer, features: { data: read.vectors, rows: read.imageIds.length, columns: read.dimension } });
    }
    const images = await store.listImages('demo', { limit: 10_000 });
    const sourceOf = new Map(images.map((image) => [image.id, image.sourceId]));
    const comparisons = await store.withPrisma((prisma) => prisma.comparison.findMany({ orderBy: { id: 'asc' } }));
    return { named, sourceIds: Array.from(imageIds, (id) => sourceOf.get(id) as string), comparisons };
  } finally {
    await store.close();
  }
}

describe.each(backends)('strata compare --dataset on %s', (backend) => {
  let data: string;
  let scratch: ScratchDatabase | undefined;
  let env: NodeJS.ProcessEnv;
  const open = () => openStore({ dataDir: data, databaseUrl: scratch?.url });
  const run = (args: string[]) => spawnSync(process.execPath, [CLI, 'compare', ...args, '--data', data], { encoding: 'utf8', env, maxBuffer: 1 << 26 });

  beforeAll(async () => {
    data = join(dir, `data-${backend}`);
    scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl as string, 'strata_compare_cli') : undefined;
    const { DATABASE_URL: _ignored, ...rest } = process.env;
    env = scratch ? { ...rest, DATABASE_URL: scratch.url } : rest;
    const store = await open();
    try {
      await storeDataset(store);
    } finally {
      await store.close();
    }
  });
  afterAll(async () => scratch?.drop());

  it('prints CKA, RSA and kNN overlap of two layers, and reuses them on the next run', async () => {
    const first = run(['--dataset', 'demo', '--a', 'conv3', '--b', 'pool5']);
    expect(first.status, first.stderr).toBe(0);
    expect(first.stderr).toMatch(/^compare: 0 of 3 result\(s\) reused from the store$/m);
    const json = JSON.parse(first.stdout) as { cka: number; rsa: number; knnOverlap: number; images: number; results: { metric: string; reused: boolean }[] };
    const { named } = await readStore(open, ['conv3', 'pool5']);
    expect(json.cka).toBe((await compareLayers(named, { metric: 'cka' })).values[1]);
    expect(json.rsa).toBe((await compareLayers(named, { metric: 'rsa' })).values[1]);
    expect(json.knnOverlap).toBe((await compareLayers(named, { metric: 'knn' })).values[1]);
    expect(json.images).toBe(IMAGES);
    expect(json.results.map((r) => r.metric)).toEqual(['cka', 'rsa', 'knn:10']);
    const second = run(['--dataset', 'demo', '--a', 'pool5', '--b', 'conv3']);
    expect(second.stderr).toBe('compare: 3 of 3 result(s) reused from the store\n'); // and nothing computed: no progress lines
    expect(JSON.parse(second.stdout)).toMatchObject({ cka: json.cka, rsa: json.rsa, knnOverlap: json.knnOverlap, layerA: 'pool5', layerB: 'conv3' });
    const csv = run(['--dataset', 'demo', '--a', 'conv3', '--b', 'pool5', '--metric', 'knn:5', '--csv']).stdout.trim().split('\n');
    expect(csv[0]).toBe('metric,value,images_used,exact,reused');
    expect(csv[1]).toBe(`knn:5,${(await compareLayers(named, { metric: 'knn', k: 5 })).values[1]},${IMAGES},true,false`);
  });

  it('prints the layer x layer matrix of a metric as JSON and CSV', async () => {
    const { named } = await readStore(open, STORED.map((l) => l.layer));
    const result = run(['--dataset', 'demo', '--all-layers', '--metric', 'knn:5']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stderr).toMatch(/^compare: 1 of 3 layer pair\(s\) reused from the store$/m);
    const json = JSON.parse(result.stdout) as { metric: string; layers: string[]; matrix: number[][]; k: number };
    expect(json).toMatchObject({ metric: 'knn:5', k: 5, layers: ['conv3', 'pool2', 'pool5'], images: IMAGES, reusedPairs: 1, computedPairs: 2 });
    expect(json.matrix.flat()).toEqual(Array.from((await compareLayers(named, { metric: 'knn', k: 5 })).values));
    const csv = run(['--dataset', 'demo', '--all-layers', '--metric', 'cka', '--layers', 'pool5,pool2', '--csv']).stdout.trim().split('\n');
    expect(csv[0]).toBe('layer,pool5,pool2');
    expect(csv[1]).toBe(`pool5,1,${(await compareLayers([named[2] as NamedFeatures, named[1] as NamedFeatures], { metric: 'cka' })).values[1]}`);
  });

  it('correlates a brain RDM over source ids with every layer, with p-values', async () => {
    const { named, sourceIds } = await readStore(open, STORED.map((l) => l.layer));
    const rows = Int32Array.from([40, 2, 77, 13, 8, 61, 30, 85, 19, 50, 4, 66, 27, 71]);
    const m = rows.length;
    const upper = await rdmUpperTriangle(named[1]?.features as FeatureMatrix, { rows });
    const random = createRandom(5);
    const square = new Float64Array(m * m);
    for (let i = 0, p = 0; i < m; i++) for (let j = i + 1; j < m; j++, p++) square[i * m + j] = square[j * m + i] = Number(((upper[p] as number) + 0.1 * random.next()).toPrecision(17));
    const ids = Array.from(rows, (r) => sourceIds[r] as string);
    const file = join(dir, `brain-${backend}.csv`);
    writeFileSync(file, [`,${ids.join(',')}`, ...ids.map((id, i) => [id, ...Array.from(square.subarray(i * m, i * m + m), (v) => v.toPrecision(17))].join(','))].join('\n'));
    const result = run(['--dataset', 'demo', '--rdm', file, '--permutations', '200', '--seed', '3']);
    expect(result.status, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { images: number; pairs: number; layers: { layer: string; rho: number; p: number; reused: boolean }[] };
    const expected = await correlateRdmWithLayers(validateRdm(square, m, ids, file), named, sourceIds, { permutations: 200, seed: 3 });
    expect(json.layers.map(({ layer, rho, p }) => ({ layer, rho, p }))).toEqual(expected.layers);
    expect(json).toMatchObject({ images: m, pairs: (m * (m - 1)) / 2 });
    expect(json.layers[1]?.p).toBeLessThan(0.05);
    const csv = run(['--dataset', 'demo', '--rdm', file, '--permutations', '200', '--seed', '3', '--csv', '--layers', 'pool2']);
    expect(csv.stderr).toBe('compare: 1 of 1 layer(s) reused from the store\n');
    expect(csv.stdout.trim().split('\n')).toEqual(['layer,rho,p', `pool2,${expected.layers[1]?.rho},${expected.layers[1]?.p}`]);
  });

  it('fails with one clear line for bad input and stores nothing', async () => {
    const before = (await readStore(open, [])).comparisons;
    const notSquare = join(dir, `not-square-${backend}.csv`);
    writeFileSync(notSquare, ',photo1.jpg,photo2.jpg,photo3.jpg\nphoto1.jpg,0,1,2\nphoto2.jpg,1,0\nphoto3.jpg,2,3,0\n');
    const unknownIds = join(dir, `unknown-${backend}.csv`);
    writeFileSync(unknownIds, ',photo1.jpg,nope.jpg,photo2.jpg\nphoto1.jpg,0,1,2\nnope.jpg,1,0,3\nphoto2.jpg,2,3,0\n');
    const cases: [string[], RegExp][] = [
      [['--dataset', 'nope', '--a', 'conv3', '--b', 'pool5'], /^strata: unknown dataset "nope"; the store has "demo"$/],
      [['--dataset', 'demo', '--a', 'conv3', '--b', 'pool4'], /^strata: dataset "demo" has no layer "pool4"; it has conv3, pool2, pool5$/],
      [['--dataset', 'demo', '--all-layers', '--metric', 'cca'], /^strata: Unknown metric "cca"/],
      [['--dataset', 'demo', '--rdm', unknownIds], /^strata: .*unknown-.*\.csv: 1 of 3 image ids are not images of dataset "demo": "nope.jpg" \(it has 90 images, ids like "photo0.jpg"/],
      [['--dataset', 'demo', '--rdm', notSquare], /^strata: .*not-square-.*\.csv: line 3 has 2 values, expected 3/],
      [['--dataset', 'demo', '--a', 'conv3'], /^strata: --a and --b go together/],
      [['--dataset', 'demo', '--all-layers', '--layer-dir', dir], /^strata: --dataset and --layer-dir exclude each other/],
      [['--dataset', 'demo', '--all-layers', '--rdm', notSquare], /^strata: with --dataset give exactly one of/],
    ];
    for (const [args, message] of cases) {
      const result = run(args);
      expect(result.status, args.join(' ')).toBe(1);
      expect(result.stderr.trim()).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect((await readStore(open, [])).comparisons).toEqual(before);
  });
});

describe('strata compare --dataset on an ingested HDF5 brick', () => {
  it('compares the PCA vectors `strata ingest` stored, as the library does on them', async () => {
    const data = join(dir, 'data-ingested');
    const model = join(dir, 'synthetic.onnx');
    const brick = join(dir, 'stimuli.h5');
    expect(strata(['model', 'synth', '--seed', '3', '--out', model]).status).toBe(0);
    await writeImageBrick(brick, 425, 425, demoImages(12, 4));
    const ingest = strata(['ingest', '--images', brick, '--name', 'brick', '--model', model, '--layers', 'pool1,pool5', '--pca', '6', '--sample', '12', '--data', data]);
    expect(ingest.status, ingest.stderr).toBe(0);
    const result = strata(['compare', '--dataset', 'brick', '--a', 'pool1', '--b', 'pool5', '--metric', 'cka,rsa,knn:3', '--data', data]);
    expect(result.status, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { cka: number; rsa: number; knnOverlap: number };
    const store = await openStore({ dataDir: data });
    let named: NamedFeatures[];
    let params: unknown;
    try {
      named = [];
      for (const layer of ['pool1', 'pool5']) {
        const read = await store.readVectors('brick', layer);
        named.push({ name: layer, features: { data: read.vectors, rows: read.imageIds.length, columns: read.dimension } });
      }
      params = (await store.withPrisma((prisma) => prisma.comparison.findFirstOrThrow({ where: { metric: 'cka' } }))).params;
    } finally {
      await store.close();
    }
    expect(json.cka).toBe((await compareLayers(named, { metric: 'cka' })).values[1]);
    expect(json.rsa).toBe((await compareLayers(named, { metric: 'rsa' })).values[1]);
    expect(json.knnOverlap).toBe((await compareLayers(named, { metric: 'knn', k: 3 })).values[1]);
    // The rows name the PCA bases they were computed from.
    expect((params as { basisSha256: string[] }).basisSha256.every((sha) => /^[0-9a-f]{64}$/.test(sha))).toBe(true);
  });
});
