/**
 * The Prisma schema, its hand-written migration and the committed client agree: the client is
 * what `prisma generate` makes of the schema, the migration is in Prisma's format, and every
 * model (the later issues' placeholders too) round-trips through the client on a migrated
 * database of each backend.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { createScratchDatabase, defaultMigrationsDir, openStore } from '../src/store/index.js';

const ROOT = resolve(import.meta.dirname, '../../..');
const serverUrl = process.env.STRATA_TEST_DATABASE_URL;

describe('prisma schema', () => {
  it('matches the committed generated client (node prisma/generate.mjs --check)', () => {
    const result = spawnSync(process.execPath, [join(ROOT, 'prisma/generate.mjs'), '--check'], { encoding: 'utf8', timeout: 120_000 });
    expect(result.status, `${result.stdout}${result.stderr}`).toBe(0);
  });

  it('has migrations in Prisma\'s layout', () => {
    const dir = defaultMigrationsDir();
    expect(readFileSync(join(dir, 'migration_lock.toml'), 'utf8')).toMatch(/^provider = "postgresql"$/m);
    const folders = readdirSync(dir, { withFileTypes: true }).filter((entry) => entry.isDirectory());
    expect(folders.length).toBeGreaterThan(0);
    for (const folder of folders) {
      expect(folder.name).toMatch(/^\d{14}_[a-z0-9_]+$/);
      expect(readdirSync(join(dir, folder.name))).toEqual(['migration.sql']);
    }
  });
});

describe.each(['pglite', ...(serverUrl ? ['postgres'] : [])])('every model on %s', (backend) => {
  it('round-trips through the generated client on the migrated database', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-schema-'));
    const scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl as string, 'strata_schema_test') : undefined;
    const store = await openStore({ dataDir, databaseUrl: scratch?.url });
    try {
      await store.withPrisma(async (prisma) => {
        const model = await prisma.model.create({ data: { name: 'vgg16.onnx', sha256: 'a'.repeat(64) } });
        const dataset = await prisma.dataset.create({
          data: { name: 'nsd', sourceKind: 'hdf5', sourcePath: '/data/nsd.hdf5', sourceDataset: 'imgBrick', imageCount: 2, modelId: model.id },
        });
        const image = await prisma.image.create({
          data: { datasetId: dataset.id, index: 0, sourceId: '0', width: 425, height: 425, thumbnail: new Uint8Array([255, 216, 255]) },
        });
        const basis = await prisma.pcaBasis.create({
          data: { path: 'bases/x.pca', sha256: 'b'.repeat(64), components: 2, dimension: 25088, sampleCount: 2, seed: 0, whiten: false, center: true, explainedVarianceRatio: [0.5, 0.25] },
        });
        const [a, b] = await Promise.all(
          ['pool4', 'pool5'].map((layer) =>
            prisma.datasetLayer.create({ data: { datasetId: dataset.id, layer, modelId: model.id, pcaBasisId: basis.id, components: 2, status: 'ready' } }),
          ),
        );
        const run = await prisma.run.create({ data: { kind: 'map', datasetId: dataset.id, total: 2, params: { perplexity: 30 }, errors: [{ index: 1, id: '1', error: 'bad' }] } });
        const coordinates = new Uint8Array(new Float32Array([0.5, -1]).buffer);
        await prisma.map.create({ data: { datasetLayerId: b?.id as number, runId: run.id, method: 'tsne', perplexity: 30, seed: 1, coordinates, imageIds: new Uint8Array(new Int32Array([image.id]).buffer), mosaicPath: 'maps/1.png' } });
        await prisma.comparison.create({
          data: { datasetId: dataset.id, layerAId: a?.id as number, layerBId: b?.id as number, metric: 'cka', value: 0.75, key: 'cka 1 2', inputs: 'c'.repeat(64), images: 2, imagesUsed: 2, exact: true, params: { kernel: 'linear' } },
        });

        const loaded = await prisma.dataset.findUniqueOrThrow({
          where: { name: 'nsd' },
          include: { images: true, layers: { include: { pcaBasis: true, maps: true } }, runs: true, comparisons: true, model: true },
        });
        expect(loaded.model.sha256).toBe('a'.repeat(64));
        expect(Array.from(loaded.images[0]?.thumbnail ?? [])).toEqual([255, 216, 255]);
        expect(loaded.layers.map((layer) => layer.pcaBasis?.explainedVarianceRatio)).toEqual([[0.5, 0.25], [0.5, 0.25]]);
        const map = loaded.layers[1]?.maps[0];
        expect(Array.from(new Float32Array(new Uint8Array(map?.coordinates ?? []).buffer))).toEqual([0.5, -1]);
        expect(loaded.runs[0]?.errors).toEqual([{ index: 1, id: '1', error: 'bad' }]);
        expect(loaded.comparisons[0]).toMatchObject({ metric: 'cka', value: 0.75, params: { kernel: 'linear' } });
        // Deleting a dataset takes everything of it along.
        await prisma.dataset.delete({ where: { id: dataset.id } });
        expect(await prisma.image.count()).toBe(0);
        expect(await prisma.map.count()).toBe(0);
        expect(await prisma.comparison.count()).toBe(0);
      });
    } finally {
      await store.close();
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });
});
