/**
 * Comparisons of a stored dataset's layers on both backends: embedded PGlite always, and the
 * Postgres server named by STRATA_TEST_DATABASE_URL (CI starts one and must not skip it).
 * The numbers are the library's on the vectors read back; results are stored and reused (shown
 * by editing a stored value and getting the edit back, not by timing), go stale when a layer's
 * PCA basis or vectors change, and bad input is refused with a clear error, storing nothing.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  compareDatasetLayers,
  compareLayers,
  correlateBrainRdm,
  correlateRdmWithLayers,
  layerSimilarityMatrix,
  listDatasetComparisons,
  rdmUpperTriangle,
  validateRdm,
  type ExternalRdm,
  type NamedFeatures,
} from '../src/compare/index.js';
import { createRandom } from '../src/random.js';
import { ConflictError, createScratchDatabase, InvalidInputError, NotFoundError, openStore, type ScratchDatabase, type Store } from '../src/store/index.js';

const serverUrl = process.env.STRATA_TEST_DATABASE_URL;
const backends: { name: 'pglite' | 'postgres' }[] = [{ name: 'pglite' }, ...(serverUrl ? [{ name: 'postgres' as const }] : [])];

if (process.env.CI && !serverUrl) {
  describe('stored comparisons on postgres', () => {
    it('has a server to test against', () => {
      throw new Error('CI is set but STRATA_TEST_DATABASE_URL is not: start one with `scripts/postgres-server.sh start` and export its URL (.ci/run does)');
    });
  });
}

const IMAGES = 150;
const LAYERS = [
  { layer: 'pool1', dimension: 16 },
  { layer: 'pool3', dimension: 12 },
  { layer: 'pool5', dimension: 8 },
] as const;

/** Layers with a shared latent structure drifting from one to the next, like PCA scores of a network's layers. */
function chainVectors(images: number, seed: number): Float32Array[] {
  const random = createRandom(seed);
  const latentDim = 6;
  let latent = Float64Array.from({ length: images * latentDim }, () => random.normal());
  return LAYERS.map(({ dimension }) => {
    latent = latent.map((v) => 0.85 * v + 0.5 * random.normal());
    const loading = Float64Array.from({ length: latentDim * dimension }, () => random.normal());
    const out = new Float32Array(images * dimension);
    for (let r = 0; r < images; r++) {
      for (let c = 0; c < dimension; c++) {
        let v = 0.4 * random.normal();
        for (let t = 0; t < latentDim; t++) v += (latent[r * latentDim + t] as number) * (loading[t * dimension + c] as number);
        out[r * dimension + c] = v / Math.sqrt(c + 1);
      }
    }
    return out;
  });
}

/** A dataset "demo" with three ready layers, each with a PCA basis row, written through the store's API. */
async function createDataset(store: Store): Promise<{ imageIds: Int32Array }> {
  const vectors = chainVectors(IMAGES, 11);
  const imageIds = await store.withPrisma(async (prisma) => {
    const model = await prisma.model.create({ data: { name: 'synthetic.onnx', sha256: 'e'.repeat(64) } });
    const dataset = await prisma.dataset.create({ data: { name: 'demo', sourceKind: 'hdf5', sourcePath: '/data/demo.h5', imageCount: IMAGES, modelId: model.id } });
    // Source ids in an order other than the database ids, as a folder's relative paths would be.
    await prisma.image.createMany({
      data: Array.from({ length: IMAGES }, (_, i) => ({ datasetId: dataset.id, index: i, sourceId: `img_${String((i * 37) % IMAGES).padStart(3, '0')}.png`, width: 1, height: 1 })),
    });
    for (const { layer, dimension } of LAYERS) {
      const basis = await prisma.pcaBasis.create({
        data: { path: `bases/demo-${layer}.pca`, sha256: `${layer}-basis-1`.padEnd(64, '0'), components: dimension, dimension: 1000, sampleCount: IMAGES, seed: 0, whiten: false, center: true, explainedVarianceRatio: [] },
      });
      await prisma.datasetLayer.create({ data: { datasetId: dataset.id, layer, modelId: model.id, pcaBasisId: basis.id, components: dimension, status: 'ready' } });
    }
    const rows = await prisma.image.findMany({ where: { datasetId: dataset.id }, orderBy: { index: 'asc' }, select: { id: true } });
    return Int32Array.from(rows, (row) => row.id);
  });
  for (const [l, { layer }] of LAYERS.entries()) await store.insertVectors('demo', layer, imageIds, vectors[l] as Float32Array);
  return { imageIds };
}

/** The vectors of some layers as read back by the store (rows in image-id order), for the library. */
async function readBack(store: Store, layers: readonly string[]): Promise<NamedFeatures[]> {
  const out: NamedFeatures[] = [];
  for (const layer of layers) {
    const { vectors, dimension, imageIds } = await store.readVectors('demo', layer);
    out.push({ name: layer, features: { data: vectors, rows: imageIds.length, columns: dimension } });
  }
  return out;
}

async function comparisonRows(store: Store) {
  return store.withPrisma((prisma) => prisma.comparison.findMany({ orderBy: { id: 'asc' } }));
}

describe.each(backends)('stored comparisons on $name', ({ name: backend }) => {
  let store: Store;
  let dataDir: string;
  let scratch: ScratchDatabase | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'strata-compare-store-'));
    scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl as string, 'strata_compare_test') : undefined;
    store = await openStore({ dataDir, databaseUrl: scratch?.url });
    await createDataset(store);
  });
  afterAll(async () => {
    await store.close();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('compares two layers by CKA, RSA and kNN overlap: the library on the vectors read back', async () => {
    const result = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', k: 5, maxImages: 100 });
    const layers = await readBack(store, ['pool1', 'pool5']);
    const expected = async (options: Parameters<typeof compareLayers>[1]) => (await compareLayers(layers, options)).values[1];
    expect(result.cka).toBe(await expected({ metric: 'cka' }));
    expect(result.rsa).toBe(await expected({ metric: 'rsa', maxImages: 100 }));
    expect(result.knnOverlap).toBe(await expected({ metric: 'knn', k: 5 }));
    expect(result.ckaDebiased).toBeNull();
    expect(result.images).toBe(IMAGES);
    expect(result.results.map((r) => [r.metric, r.reused, r.imagesUsed, r.exact])).toEqual([
      ['cka', false, IMAGES, true],
      ['rsa', false, 100, false],
      ['knn:5', false, IMAGES, true],
    ]);
    expect(result.cka as number).toBeGreaterThan(0.2);
    expect(result.cka as number).toBeLessThan(0.99);
    const rows = await comparisonRows(store);
    expect(rows.map((row) => row.metric)).toEqual(['cka', 'rsa', 'knn']);
    expect(rows[2]?.params).toMatchObject({ k: 5, distance: 'cosine', layers: ['pool1', 'pool5'] });
  });

  it('reuses stored results for the same question, in either layer order, without computing', async () => {
    const first = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', k: 5, maxImages: 100 });
    expect(first.results.every((r) => r.reused)).toBe(true);
    const swapped = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool5', layerB: 'pool1', k: 5, maxImages: 100 });
    expect(swapped.results.map((r) => r.id)).toEqual(first.results.map((r) => r.id));
    expect(swapped.results.map((r) => r.computedAt)).toEqual(first.results.map((r) => r.computedAt));
    // Evidence that nothing is recomputed: a value edited in the table comes back as edited.
    await store.withPrisma((prisma) => prisma.comparison.update({ where: { id: first.results[0]?.id }, data: { value: 0.123 } }));
    expect((await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', metrics: ['cka'] })).cka).toBe(0.123);
    // recompute: true computes again and overwrites the row in place.
    const again = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', metrics: ['cka'], recompute: true });
    expect(again.cka).toBe(first.cka);
    expect(again.results[0]).toMatchObject({ reused: false, id: first.results[0]?.id });
    // Another k, seed of a sampled metric or metric is another question.
    const other = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', k: 6, maxImages: 100, seed: 3, metrics: ['knn', 'rsa', 'cka'] });
    expect(other.results.map((r) => r.reused)).toEqual([false, false, true]);
    // A sample that takes every image does not depend on the seed: stored once.
    const all = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', metrics: ['rsa'], seed: 1 });
    expect((await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', metrics: ['rsa'], seed: 2 })).results[0]).toMatchObject({ reused: true, id: all.results[0]?.id });
  });

  it('builds the layer x layer matrix from stored pairs and computes only the missing ones', async () => {
    const names = LAYERS.map((l) => l.layer);
    const layers = await readBack(store, names);
    const rsa = await layerSimilarityMatrix(store, { dataset: 'demo', metric: 'rsa', maxImages: 100 });
    expect(rsa.layers).toEqual(names);
    expect(Array.from(rsa.values)).toEqual(Array.from((await compareLayers(layers, { metric: 'rsa', maxImages: 100 })).values));
    expect(rsa).toMatchObject({ metric: 'rsa', images: IMAGES, imagesUsed: 100, exact: false, reusedPairs: 1, computedPairs: 2 });
    expect(await layerSimilarityMatrix(store, { dataset: 'demo', metric: 'rsa', maxImages: 100 })).toMatchObject({ reusedPairs: 3, computedPairs: 0, values: rsa.values });

    const knn = await layerSimilarityMatrix(store, { dataset: 'demo', metric: 'knn:5', layers: ['pool5', 'pool3'] });
    expect(knn).toMatchObject({ metric: 'knn:5', k: 5, distance: 'cosine', layers: ['pool5', 'pool3'], computedPairs: 1 });
    expect(knn.values[1]).toBe((await compareLayers([layers[2] as NamedFeatures, layers[1] as NamedFeatures], { metric: 'knn', k: 5 })).values[1]);

    // CKA: the pool1-pool5 value stored by the pair call is reused; the float64 kernel and onnxruntime agree.
    const cka = await layerSimilarityMatrix(store, { dataset: 'demo', metric: 'cka' });
    const expected = (await compareLayers(layers, { metric: 'cka' })).values;
    for (let i = 0; i < 9; i++) expect(cka.values[i]).toBeCloseTo(expected[i] as number, 12);
    expect(cka.reusedPairs).toBe(1);
    const onnx = await layerSimilarityMatrix(store, { dataset: 'demo', metric: 'cka-debiased', kernel: 'onnxruntime' });
    const debiased = (await compareLayers(layers, { metric: 'cka-debiased', kernel: 'float64' })).values;
    for (let i = 0; i < 9; i++) expect(Math.abs((onnx.values[i] as number) - (debiased[i] as number))).toBeLessThan(1e-6);
  });

  it('correlates a brain RDM given by source ids with every layer, and reuses it per layer', async () => {
    const layers = await readBack(store, LAYERS.map((l) => l.layer));
    const { imageIds } = await store.readVectors('demo', 'pool3');
    const images = await store.listImages('demo', { limit: IMAGES });
    const sourceOf = new Map(images.map((image) => [image.id, image.sourceId]));
    const layerIds = Array.from(imageIds, (id) => sourceOf.get(id) as string);
    // 30 images in a shuffled order; dissimilarities from pool3's RDM plus noise.
    const rows = Int32Array.from({ length: 30 }, (_, i) => (i * 53 + 7) % IMAGES);
    const upper = await rdmUpperTriangle(layers[1]?.features as NamedFeatures['features'], { rows });
    const random = createRandom(2);
    const values = new Float64Array(30 * 30);
    for (let i = 0, p = 0; i < 30; i++) for (let j = i + 1; j < 30; j++, p++) values[i * 30 + j] = values[j * 30 + i] = (upper[p] as number) + 0.2 * random.next();
    const rdm = validateRdm(values, 30, Array.from(rows, (r) => layerIds[r] as string), 'brain.csv');

    const result = await correlateBrainRdm(store, { dataset: 'demo', rdm, permutations: 200, seed: 4 });
    const expected = await correlateRdmWithLayers(rdm, layers, layerIds, { permutations: 200, seed: 4 });
    expect(result.layers.map(({ layer, rho, p }) => ({ layer, rho, p }))).toEqual(expected.layers);
    expect(result).toMatchObject({ images: 30, pairs: 435, permutations: 200, alternative: 'greater', exact: true, rdm: 'brain.csv' });
    expect(result.layers[1]?.p).toBeLessThan(0.01);
    expect(result.layers.every((l) => !l.reused)).toBe(true);
    const again = await correlateBrainRdm(store, { dataset: 'demo', rdm, permutations: 200, seed: 4, layers: ['pool5', 'pool3'] });
    expect(again.layers).toEqual([
      { ...result.layers[2], reused: true },
      { ...result.layers[1], reused: true },
    ]);
    // Another seed (other permutations) is another question; rho is the same.
    const reseeded = await correlateBrainRdm(store, { dataset: 'demo', rdm, permutations: 200, seed: 5, layers: ['pool3'] });
    expect(reseeded.layers[0]).toMatchObject({ rho: result.layers[1]?.rho, reused: false });
  });

  it('recomputes a result once a layer is re-ingested (another PCA basis) or gains images', async () => {
    const before = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', k: 5, maxImages: 100 });
    expect(before.results.every((r) => r.reused)).toBe(true);
    await store.withPrisma(async (prisma) => {
      const layer = await prisma.datasetLayer.findFirstOrThrow({ where: { layer: 'pool5' } });
      const basis = await prisma.pcaBasis.create({
        data: { path: 'bases/demo-pool5-2.pca', sha256: 'pool5-basis-2'.padEnd(64, '0'), components: 8, dimension: 1000, sampleCount: IMAGES, seed: 1, whiten: false, center: true, explainedVarianceRatio: [] },
      });
      await prisma.datasetLayer.update({ where: { id: layer.id }, data: { pcaBasisId: basis.id } });
    });
    const listed = await listDatasetComparisons(store, 'demo');
    expect(listed.filter((c) => !c.current).every((c) => c.layerA === 'pool5' || c.layerB === 'pool5')).toBe(true);
    expect(listed.filter((c) => !c.current).length).toBeGreaterThan(3);
    const after = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool5', k: 5, maxImages: 100 });
    expect(after.results.map((r) => r.reused)).toEqual([false, false, false]);
    expect(after.results.map((r) => r.id)).toEqual(before.results.map((r) => r.id)); // overwritten in place
    expect((await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool1', layerB: 'pool3', metrics: ['rsa'], maxImages: 100 })).results[0]?.reused).toBe(true);

    // Ten more images in every layer: every result of the dataset is stale, and the numbers follow the new vectors.
    const extra = chainVectors(IMAGES + 10, 12);
    await store.withPrisma(async (prisma) => {
      const dataset = await prisma.dataset.findUniqueOrThrow({ where: { name: 'demo' } });
      await prisma.image.createMany({ data: Array.from({ length: 10 }, (_, i) => ({ datasetId: dataset.id, index: IMAGES + i, sourceId: `extra_${i}.png`, width: 1, height: 1 })) });
    });
    const added = await store.withPrisma((prisma) => prisma.image.findMany({ where: { index: { gte: IMAGES } }, orderBy: { index: 'asc' }, select: { id: true } }));
    for (const [l, { layer, dimension }] of LAYERS.entries()) {
      await store.insertVectors('demo', layer, Int32Array.from(added, (a) => a.id), (extra[l] as Float32Array).subarray(IMAGES * dimension));
    }
    const grown = await compareDatasetLayers(store, { dataset: 'demo', layerA: 'pool3', layerB: 'pool1', metrics: ['rsa', 'cka'], maxImages: 100 });
    expect(grown.images).toBe(IMAGES + 10);
    expect(grown.results.map((r) => r.reused)).toEqual([false, false]);
    const layers = await readBack(store, ['pool3', 'pool1']);
    expect(grown.cka).toBe((await compareLayers(layers, { metric: 'cka' })).values[1]);
  });

  it('reads a layer larger than one page of vectors (4,096) in pages, giving the same numbers', async () => {
    const count = 4200;
    const random = createRandom(6);
    const ids = await store.withPrisma(async (prisma) => {
      const model = await prisma.model.findFirstOrThrow();
      const dataset = await prisma.dataset.create({ data: { name: 'paged', sourceKind: 'hdf5', sourcePath: '/data/paged.h5', imageCount: count, modelId: model.id } });
      await prisma.image.createMany({ data: Array.from({ length: count }, (_, i) => ({ datasetId: dataset.id, index: i, sourceId: String(i), width: 1, height: 1 })) });
      for (const layer of ['pool1', 'pool2']) await prisma.datasetLayer.create({ data: { datasetId: dataset.id, layer, modelId: model.id, components: 3, status: 'ready' } });
      return Int32Array.from(await prisma.image.findMany({ where: { datasetId: dataset.id }, orderBy: { id: 'asc' }, select: { id: true } }), (row) => row.id);
    });
    const named: NamedFeatures[] = [];
    for (const layer of ['pool1', 'pool2']) {
      const data = Float32Array.from({ length: count * 3 }, () => random.normal());
      await store.insertVectors('paged', layer, ids, data);
      named.push({ name: layer, features: { data, rows: count, columns: 3 } });
    }
    const result = await compareDatasetLayers(store, { dataset: 'paged', layerA: 'pool1', layerB: 'pool2', metrics: ['knn', 'cka'], k: 3, maxQueries: 500 });
    expect(result.knnOverlap).toBe((await compareLayers(named, { metric: 'knn', k: 3, maxQueries: 500 })).values[1]);
    expect(result.cka).toBe((await compareLayers(named, { metric: 'cka' })).values[1]);
  });

  it('refuses unknown datasets, layers and images, bad RDMs and options, storing nothing', async () => {
    const before = await comparisonRows(store);
    const pair = { dataset: 'demo', layerA: 'pool1', layerB: 'pool5' };
    await expect(compareDatasetLayers(store, { ...pair, dataset: 'nope' })).rejects.toThrow(NotFoundError);
    await expect(compareDatasetLayers(store, { ...pair, dataset: 'nope' })).rejects.toThrow(/unknown dataset "nope"; the store has "demo", "paged"/);
    await expect(compareDatasetLayers(store, { ...pair, layerB: 'pool4' })).rejects.toThrow(/dataset "demo" has no layer "pool4"; it has pool1, pool3, pool5/);
    await expect(layerSimilarityMatrix(store, { dataset: 'demo', metric: 'cca' })).rejects.toThrow(/Unknown metric "cca"; expected one of cka, cka-debiased, rsa, knn/);
    await expect(layerSimilarityMatrix(store, { dataset: 'demo', metric: 'knn', k: 500 })).rejects.toThrow(/k = 500 neighbours need at least 501 images; dataset "demo" has 160/);
    await expect(compareDatasetLayers(store, { ...pair, metrics: ['knn:3' as 'knn'] })).rejects.toThrow(InvalidInputError);
    await expect(layerSimilarityMatrix(store, { dataset: 'demo', metric: 'cka', layers: ['pool1', 'pool1'] })).rejects.toThrow(/pool1 is listed twice/);

    const ids = ['img_000.png', 'img_001.png', 'nope.png', 'img_002.png', 'also-missing.png'];
    const square = new Float64Array(25);
    for (let i = 0; i < 5; i++) for (let j = 0; j < 5; j++) square[i * 5 + j] = i === j ? 0 : 1 + ((i + j) % 3);
    const unknownIds: ExternalRdm = { ids, values: square, size: 5, label: 'brain.csv' };
    await expect(correlateBrainRdm(store, { dataset: 'demo', rdm: unknownIds })).rejects.toThrow(
      /brain.csv: 2 of 5 image ids are not images of dataset "demo": "nope.png", "also-missing.png" \(it has 160 images, ids like /,
    );
    const notSquare: ExternalRdm = { ids: ids.slice(0, 3), values: square.subarray(0, 8), size: 3, label: 'brain.csv' };
    await expect(correlateBrainRdm(store, { dataset: 'demo', rdm: notSquare })).rejects.toThrow(/brain.csv: 8 values is not a square 3 x 3 matrix/);
    const asymmetric: ExternalRdm = { ids: ['img_000.png', 'img_001.png', 'img_002.png'], values: Float64Array.from([0, 1, 2, 1, 0, 3, 2, 4, 0]), size: 3, label: 'brain.csv' };
    await expect(correlateBrainRdm(store, { dataset: 'demo', rdm: asymmetric })).rejects.toThrow(/not symmetric/);
    await expect(correlateBrainRdm(store, { dataset: 'demo', rdm: { ...asymmetric, values: Float64Array.from([0, 1, 2, 1, 0, 3, 2, 3, 0]) }, permutations: -1 })).rejects.toThrow(/permutations must be an integer >= 0, got -1/);

    // A layer whose ingest is under way holds vectors for fewer images.
    await store.withPrisma(async (prisma) => {
      const pool5 = await prisma.datasetLayer.findFirstOrThrow({ where: { layer: 'pool5' } });
      await prisma.datasetLayer.create({ data: { datasetId: pool5.datasetId, layer: 'conv1', modelId: pool5.modelId, components: 4, status: 'ingesting' } });
    });
    const some = await store.withPrisma((prisma) => prisma.image.findMany({ take: 20, orderBy: { id: 'asc' }, select: { id: true } }));
    await store.insertVectors('demo', 'conv1', Int32Array.from(some, (s) => s.id), new Float32Array(20 * 4).map((_, i) => Math.sin(i)));
    await expect(compareDatasetLayers(store, { ...pair, layerB: 'conv1' })).rejects.toThrow(ConflictError);
    await expect(compareDatasetLayers(store, { ...pair, layerB: 'conv1' })).rejects.toThrow(/layers pool1 and conv1 of dataset "demo" hold vectors for different images \(160, status ready, and 20, status ingesting\)/);
    expect(await comparisonRows(store)).toEqual(before);
    // By default only ready layers take part.
    expect((await layerSimilarityMatrix(store, { dataset: 'demo', metric: 'rsa', maxImages: 100 })).layers).toEqual(['pool1', 'pool3', 'pool5']);
  });
});
