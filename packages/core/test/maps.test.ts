/**
 * Stored t-SNE maps on both backends (embedded PGlite always, the Postgres server named by
 * STRATA_TEST_DATABASE_URL too): computed from a layer's stored vectors, identical to a direct
 * tsne() call, stored once per parameter set and returned without recomputing, taken over when
 * a process died or failed, cancelled cleanly, drawn as mosaic and atlas from the dataset's
 * own images, and clear errors that change nothing.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildDatasetAtlas, computeMap, getMap, listMaps, renderStoredMosaic, type MapRecord } from '../src/maps/index.js';
import { renderMosaic } from '../src/mosaic/index.js';
import { demoImages, openImageSource, writeImageBrick } from '../src/sources/index.js';
import {
  ConflictError,
  InvalidInputError,
  NotFoundError,
  clusteredVectors,
  createScratchDatabase,
  createSyntheticDataset,
  decodeCoordinates,
  decodeImageIds,
  encodeCoordinates,
  encodeImageIds,
  openStore,
  type ScratchDatabase,
  type Store,
} from '../src/store/index.js';
import { tsne, type TsneProgress } from '../src/tsne/index.js';

const serverUrl = process.env.STRATA_TEST_DATABASE_URL;
const backends: ('pglite' | 'postgres')[] = ['pglite', ...(serverUrl ? (['postgres'] as const) : [])];
const COUNT = 48;
const DIM = 12;

if (process.env.CI && !serverUrl) {
  describe('maps on postgres', () => {
    it('has a server to test against', () => {
      throw new Error('CI is set but STRATA_TEST_DATABASE_URL is not: start one with `scripts/postgres-server.sh start` and export its URL (.ci/run does)');
    });
  });
}

let dir: string;
let brick: string;

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'strata-maps-test-'));
  brick = join(dir, 'stimuli.h5');
  await writeImageBrick(brick, 425, 425, demoImages(COUNT, 5));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('map rows', () => {
  it('round-trip coordinates and image ids as little-endian bytes', () => {
    const x = Float32Array.of(0.5, -1.25, 3e-8, 1e30);
    const y = Float32Array.of(-0, 7, -2.5, 1e-30);
    const bytes = encodeCoordinates(x, y);
    expect(bytes.length).toBe(32);
    expect(new DataView(bytes.buffer).getFloat32(8, true)).toBe(-1.25);
    const back = decodeCoordinates(bytes, 4);
    expect(Array.from(back.x)).toEqual(Array.from(x));
    expect(Array.from(back.y)).toEqual(Array.from(y));
    const ids = Int32Array.of(3, 70000, 2 ** 31 - 1);
    expect(Array.from(decodeImageIds(encodeImageIds(ids)))).toEqual(Array.from(ids));
    expect(() => decodeCoordinates(bytes, 5)).toThrow(/32 bytes, expected 8 x 5 points/);
  });
});

describe.each(backends)('maps on %s', (backend) => {
  let store: Store;
  let dataDir: string;
  let scratch: ScratchDatabase | undefined;
  let vectors: Float32Array;
  let imageIds: Int32Array;

  /** Rows of the tables a map touches, to show that a refused call wrote nothing. */
  const counts = () =>
    store.withPrisma(async (prisma) => ({ maps: await prisma.map.count(), runs: await prisma.run.count(), datasets: await prisma.dataset.count() }));

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), `strata-maps-${backend}-`));
    scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl as string, 'strata_maps_test') : undefined;
    store = await openStore({ dataDir, databaseUrl: scratch?.url });
    // The demo brick's images with clustered stand-in vectors, as if ingested from it.
    const created = await createSyntheticDataset(store, { name: 'demo', layer: 'pool5', count: COUNT, dimension: DIM, vectors: clusteredVectors(COUNT, DIM, { clusters: 4, seed: 1 }), indexes: [] });
    vectors = created.vectors;
    imageIds = created.imageIds;
    await store.withPrisma((prisma) =>
      prisma.dataset.update({ where: { name: 'demo' }, data: { sourceKind: 'hdf5', sourcePath: brick, sourceDataset: 'imgBrick' } }),
    );
    await createSyntheticDataset(store, { name: 'half', layer: 'pool4', count: 20, dimension: 4, indexes: [] });
    await store.withPrisma((prisma) => prisma.datasetLayer.updateMany({ where: { dataset: { name: 'half' } }, data: { status: 'ingesting' } }));
  });
  afterAll(async () => {
    await store?.close();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  });

  let first: MapRecord;

  it('computes a map from the stored vectors: the same points as tsne() on them', async () => {
    let progress = 0;
    const phases = new Set<string>();
    first = await computeMap(store, {
      dataset: 'demo',
      layer: 'pool5',
      perplexity: 10,
      onProgress: (p: TsneProgress) => {
        progress++;
        phases.add(p.phase);
      },
    });
    expect(progress).toBeGreaterThan(1000);
    expect([...phases]).toEqual(['neighbors', 'affinities', 'init', 'exaggeration', 'embedding']);
    expect(first).toMatchObject({ dataset: 'demo', layer: 'pool5', perplexity: 10, seed: 0, iterations: 1000, method: 'exact', status: 'done', pointCount: COUNT });
    expect(first.details).toMatchObject({ requestedMethod: 'auto', neighbors: 'exact', iterationsRun: 1000, dimension: DIM });
    expect(first.details.timings?.total).toBeGreaterThan(0);
    expect(Array.from(first.imageIds)).toEqual(Array.from(imageIds));
    const direct = await tsne(vectors, COUNT, DIM, { perplexity: 10, seed: 0, iterations: 1000, method: 'exact' });
    expect(Array.from(first.x)).toEqual(Array.from({ length: COUNT }, (_, i) => direct.embedding[2 * i]));
    expect(Array.from(first.y)).toEqual(Array.from({ length: COUNT }, (_, i) => direct.embedding[2 * i + 1]));
    expect(first.klDivergence).toBe(direct.klDivergence);
    expect(first.finishedAt).toBeInstanceOf(Date);
    expect(first.mosaicPath).toBeUndefined();
  });

  it('returns the stored map when asked again, without computing it', async () => {
    const before = await counts();
    let progress = 0;
    const again = await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, onProgress: () => progress++ });
    expect(progress).toBe(0);
    expect(again.id).toBe(first.id);
    expect(again.createdAt).toEqual(first.createdAt);
    expect(again.finishedAt).toEqual(first.finishedAt);
    expect(Array.from(again.x)).toEqual(Array.from(first.x));
    // 'auto' chose exact for 48 points: asking for exact is the same map.
    expect((await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, method: 'exact', onProgress: () => progress++ })).id).toBe(first.id);
    expect(progress).toBe(0);
    expect(await counts()).toEqual(before);
    expect((await getMap(store, first.id))?.x).toEqual(first.x);
    expect((await getMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10 }))?.id).toBe(first.id);
    expect((await getMap(store, { dataset: first.datasetId, layer: 'pool5', perplexity: 10, method: 'exact' }))?.id).toBe(first.id);
    expect(await getMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, seed: 1 })).toBeNull();
    expect(await getMap(store, 999_999)).toBeNull();
  });

  it('computes a new map for another seed, perplexity, iteration count or method', async () => {
    const seeded = await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, seed: 1 });
    expect(seeded.id).not.toBe(first.id);
    expect(Array.from(seeded.x)).not.toEqual(Array.from(first.x));
    const shorter = await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, iterations: 300 });
    const bh = await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, method: 'bh' });
    const perplexity = await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 5 });
    const ids = [first.id, seeded.id, shorter.id, bh.id, perplexity.id];
    expect(new Set(ids).size).toBe(5);
    expect(bh.method).toBe('bh');
    expect(shorter.iterations).toBe(300);
    const listed = await listMaps(store, 'demo');
    expect(listed.map((map) => map.id)).toEqual([...ids].sort((a, b) => a - b));
    expect(listed.every((map) => map.status === 'done' && map.pointCount === COUNT)).toBe(true);
    expect(await listMaps(store, 'half')).toEqual([]);
  });

  it('reads a layer larger than one page of vectors', async () => {
    const count = 4200;
    const big = await createSyntheticDataset(store, { name: 'big', layer: 'pool5', count, dimension: 3, indexes: [] });
    try {
      const map = await computeMap(store, { dataset: 'big', layer: 'pool5', iterations: 30, threads: 1 });
      expect(map).toMatchObject({ pointCount: count, status: 'done', method: 'bh' });
      expect(Array.from(map.imageIds)).toEqual(Array.from(big.imageIds));
      const direct = await tsne(big.vectors, count, 3, { iterations: 30, threads: 1 });
      expect(Array.from(map.x)).toEqual(Array.from({ length: count }, (_, i) => direct.embedding[2 * i]));
    } finally {
      await store.withPrisma((prisma) => prisma.dataset.delete({ where: { name: 'big' } }));
    }
  });

  it('shares one computation between concurrent calls', async () => {
    let progressA = 0;
    let progressB = 0;
    const [a, b] = await Promise.all([
      computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 12, onProgress: () => progressA++ }),
      computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 12, onProgress: () => progressB++ }),
    ]);
    expect(a.id).toBe(b.id);
    // Either call may claim the computation first; exactly one of them runs t-SNE.
    expect(Math.max(progressA, progressB)).toBeGreaterThan(0);
    expect(Math.min(progressA, progressB)).toBe(0);
  });

  it('refuses unknown datasets and layers, unready layers and impossible perplexities, changing nothing', async () => {
    const before = await counts();
    const cases: [() => Promise<unknown>, new (...args: never[]) => Error, RegExp][] = [
      [() => computeMap(store, { dataset: 'nope', layer: 'pool5' }), NotFoundError, /^unknown dataset "nope"; the store has "demo", "half"$/],
      [() => computeMap(store, { dataset: 'demo', layer: 'pool3' }), NotFoundError, /^dataset "demo" has no layer "pool3"; it has pool5$/],
      [() => computeMap(store, { dataset: 12345, layer: 'pool5' }), NotFoundError, /^unknown dataset id 12345$/],
      [() => computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 60 }), InvalidInputError, /^perplexity 60 needs at least 61 images \(perplexity < images\); layer pool5 of dataset "demo" has 48; use a perplexity below 48$/],
      [() => computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 48 }), InvalidInputError, /needs at least 49 images.*has 48; use a perplexity below 48$/],
      [() => computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: -1 }), InvalidInputError, /perplexity must be a finite number > 0, got -1/],
      [() => computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, iterations: 0 }), InvalidInputError, /iterations must be an integer in \[1, /],
      [() => computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, seed: 1.5 }), InvalidInputError, /seed must be an integer/],
      [() => computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 10, method: 'umap' as 'bh' }), InvalidInputError, /method must be one of auto, exact, bh, fft, hybrid; got "umap"/],
      [() => computeMap(store, { dataset: 'half', layer: 'pool4', perplexity: 5 }), ConflictError, /layer pool4 of dataset "half" is not fully ingested \(status ingesting, 20 vectors\); finish `strata ingest` first/],
      [() => getMap(store, { dataset: 'demo', layer: 'conv1' }), NotFoundError, /has no layer "conv1"/],
      [() => listMaps(store, 'nope'), NotFoundError, /unknown dataset "nope"/],
      [() => renderStoredMosaic(store, 999_999), NotFoundError, /no map with id 999999/],
      [() => buildDatasetAtlas(store, 'nope'), NotFoundError, /unknown dataset "nope"/],
    ];
    for (const [call, type, message] of cases) {
      const error = await call().then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(error, String(message)).toBeInstanceOf(type);
      expect((error as Error).message).toMatch(message);
    }
    expect(await counts()).toEqual(before);
  });

  it('marks a cancelled computation failed, and computes it again next time under the same id', async () => {
    const abort = new AbortController();
    const cancelled = computeMap(store, {
      dataset: 'demo',
      layer: 'pool5',
      perplexity: 8,
      signal: abort.signal,
      onProgress: (p) => {
        if (p.phase === 'exaggeration' && p.iteration === 100) abort.abort(new Error('stop here'));
      },
    });
    await expect(cancelled).rejects.toThrow('stop here');
    const failed = await getMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 8 });
    expect(failed).toMatchObject({ status: 'failed', error: 'interrupted', pointCount: COUNT });
    expect(failed?.imageIds).toHaveLength(0);
    const runs = await store.runs('demo');
    expect(runs.find((run) => (run.params as { mapId?: number }).mapId === failed?.id)).toMatchObject({ kind: 'map', status: 'failed', errors: [{ error: 'interrupted' }] });
    let progress = 0;
    const done = await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 8, onProgress: () => progress++ });
    expect(progress).toBeGreaterThan(0);
    expect(done).toMatchObject({ id: failed?.id, status: 'done' });
    expect(done.error).toBeUndefined();
  });

  it('takes over a map whose process died, and waits for one that is alive', async () => {
    const layer = await store.getLayer('demo', 'pool5');
    const insertRunning = (perplexity: number, updatedAt: Date) =>
      store.withPrisma((prisma) =>
        prisma.map.create({ data: { datasetLayerId: layer.id, perplexity, seed: 0, iterations: 1000, method: 'exact', status: 'running', pointCount: COUNT, updatedAt } }),
      );
    // Killed an hour ago: taken over on either backend.
    const dead = await insertRunning(7, new Date(Date.now() - 3_600_000));
    const recovered = await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 7 });
    expect(recovered).toMatchObject({ id: dead.id, status: 'done', pointCount: COUNT });

    const alive = await insertRunning(6, new Date());
    if (backend === 'pglite') {
      // One process holds the embedded database: a running map nobody here computes is stale.
      expect((await computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 6 })).id).toBe(alive.id);
      return;
    }
    // On a server, another process may be computing it: wait, then take its result.
    let progress = 0;
    const waiting = computeMap(store, { dataset: 'demo', layer: 'pool5', perplexity: 6, pollMs: 50, onProgress: () => progress++ });
    await new Promise((resolve) => setTimeout(resolve, 300));
    const x = new Float32Array(COUNT).fill(1);
    await store.withPrisma((prisma) =>
      prisma.map.update({ where: { id: alive.id }, data: { status: 'done', klDivergence: 0.5, coordinates: encodeCoordinates(x, x), imageIds: encodeImageIds(imageIds) } }),
    );
    const result = await waiting;
    expect(progress).toBe(0);
    expect(result).toMatchObject({ id: alive.id, status: 'done', klDivergence: 0.5 });
    expect(Array.from(result.x)).toEqual(Array.from(x));
  });

  it('draws a stored map as the recipe mosaic from the dataset images, and records where', async () => {
    const result = await renderStoredMosaic(store, first.id, { width: 400, height: 300, tile: 40, workers: 0 });
    expect(result.path).toBe(join(dataDir, 'maps', String(first.id), 'mosaic.png'));
    expect(result).toMatchObject({ width: 400, height: 300, placed: COUNT, failures: [] });
    expect(result.map.mosaicPath).toBe(result.path);
    expect(result.map.details.mosaic).toMatchObject({ width: 400, height: 300, tile: 40, placed: COUNT });
    expect((await getMap(store, first.id))?.mosaicPath).toBe(result.path);
    // The same picture as renderMosaic on the map's points (images in source order here).
    const source = await openImageSource(brick);
    const coords = new Float32Array(2 * COUNT);
    for (let i = 0; i < COUNT; i++) [coords[2 * i], coords[2 * i + 1]] = [first.x[i] as number, first.y[i] as number];
    const direct = await renderMosaic(source, coords, COUNT, { width: 400, height: 300, tile: 40, workers: 0 });
    await source.close();
    const png = await sharp(readFileSync(result.path)).raw().toBuffer({ resolveWithObject: true });
    expect(png.info).toMatchObject({ width: 400, height: 300, channels: 4 });
    expect(Buffer.compare(png.data, Buffer.from(direct.image.data))).toBe(0);

    const grid = await renderStoredMosaic(store, first.id, { tile: 20, grid: true, outPath: join(dir, `grid-${backend}.png`), workers: 0 });
    expect(grid.grid).toEqual({ cols: 8, rows: 6 });
    expect(grid).toMatchObject({ width: 160, height: 120, placed: COUNT });
    expect((await getMap(store, first.id))?.mosaicPath).toBe(join(dir, `grid-${backend}.png`));
  });

  it('refuses to draw from images that are not the dataset\'s, or a map without points', async () => {
    const other = join(dir, `other-${backend}.h5`);
    await writeImageBrick(other, 425, 425, demoImages(10, 5));
    await expect(renderStoredMosaic(store, first.id, { source: other, workers: 0 })).rejects.toThrow(/is not the image set of dataset "demo": image 10 was "10" when ingested, now nothing \(it has 10 images\)/);
    await expect(renderStoredMosaic(store, first.id, { source: join(dir, 'missing.h5') })).rejects.toThrow(/the images of dataset "demo" \(.*missing\.h5\) cannot be opened/);
    const layer = await store.getLayer('demo', 'pool5');
    const failed = await store.withPrisma((prisma) =>
      prisma.map.create({ data: { datasetLayerId: layer.id, perplexity: 3, seed: 9, iterations: 10, method: 'exact', status: 'failed', error: 'boom' } }),
    );
    await expect(renderStoredMosaic(store, failed.id)).rejects.toThrow(`map ${failed.id} is failed (boom); it has no points to draw`);
  });

  it('builds the dataset atlas under the data folder and reports it with every map', async () => {
    const atlas = await buildDatasetAtlas(store, 'demo', { sizes: [16, 32], sheetSize: 256, workers: 0 });
    expect(atlas.atlasDir).toBe(join(dataDir, 'maps', `atlas-${first.datasetId}`));
    expect(atlas).toMatchObject({ dataset: 'demo', images: COUNT, failures: 0 });
    const index = JSON.parse(readFileSync(join(atlas.atlasDir, 'atlas.json'), 'utf8')) as { images: { index: number; id: string }[]; tileSizes: number[] };
    expect(index.tileSizes).toEqual([16, 32]);
    expect(index.images.map((image) => image.id)).toEqual(Array.from({ length: COUNT }, (_, i) => String(i)));
    for (const sheet of atlas.sheets) expect(existsSync(join(atlas.atlasDir, sheet.file))).toBe(true);
    for (const map of await listMaps(store, 'demo')) expect(map.atlasDir).toBe(atlas.atlasDir);
    expect((await getMap(store, first.id))?.atlasDir).toBe(atlas.atlasDir);
  });

  it('reuses the recorded atlas when asked and nothing it depends on changed', async () => {
    const options = { sizes: [16, 32], sheetSize: 256, workers: 0 } as const;
    const built = await buildDatasetAtlas(store, 'demo', options);
    const sheet = join(built.atlasDir, built.sheets[0]?.file ?? '');
    const writtenAt = statSync(sheet).mtimeMs;
    const reused = await buildDatasetAtlas(store, 'demo', { ...options, reuse: true });
    expect(reused).toMatchObject({ reused: true, atlasDir: built.atlasDir, images: COUNT, failures: 0, sheets: built.sheets });
    expect(statSync(sheet).mtimeMs).toBe(writtenAt);
    // Other tile sizes, or an index gone from disk, mean a new build.
    expect((await buildDatasetAtlas(store, 'demo', { ...options, sizes: [16], reuse: true })).reused).toBe(false);
    rmSync(join(built.atlasDir, 'atlas.json'));
    const rebuilt = await buildDatasetAtlas(store, 'demo', { ...options, reuse: true });
    expect(rebuilt.reused).toBe(false);
    expect(existsSync(join(rebuilt.atlasDir, 'atlas.json'))).toBe(true);
  });
});
