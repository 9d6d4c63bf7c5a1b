/**
 * The feature store on both backends: embedded PGlite always, and the Postgres server named by
 * STRATA_TEST_DATABASE_URL (scripts/postgres-server.sh; CI starts one and must not skip it).
 * Migrations as Prisma records them, vectors in and out bit for bit, idempotent inserts, HNSW
 * neighbours against exact ones, and clear errors that change nothing.
 */
import { createHash } from 'node:crypto';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  clusteredVectors,
  createScratchDatabase,
  createSyntheticDataset,
  defaultDataDir,
  defaultMigrationsDir,
  exactNeighbors,
  InvalidInputError,
  MigrationError,
  NotFoundError,
  openStore,
  readMigrations,
  type Metric,
  type ScratchDatabase,
  type Store,
} from '../src/store/index.js';

const serverUrl = process.env.STRATA_TEST_DATABASE_URL;
const backends: { name: 'pglite' | 'postgres' }[] = [{ name: 'pglite' }, ...(serverUrl ? [{ name: 'postgres' as const }] : [])];

if (process.env.CI && !serverUrl) {
  describe('store on postgres', () => {
    it('has a server to test against', () => {
      throw new Error('CI is set but STRATA_TEST_DATABASE_URL is not: start one with `scripts/postgres-server.sh start` and export its URL (.ci/run does)');
    });
  });
}

/** A store on a fresh embedded database or a fresh database of the test server. */
async function freshStore(backend: 'pglite' | 'postgres', options: { migrationsDir?: string } = {}): Promise<{ store: Store; dataDir: string; dispose(): Promise<void>; reopen(extra?: { migrationsDir?: string }): Promise<Store> }> {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-store-test-'));
  const scratch: ScratchDatabase | undefined = backend === 'postgres' ? await createScratchDatabase(serverUrl as string, 'strata_test') : undefined;
  const open = (extra: { migrationsDir?: string } = {}) => openStore({ dataDir, databaseUrl: scratch?.url, ...options, ...extra });
  const store = await open();
  return {
    store,
    dataDir,
    reopen: open,
    async dispose() {
      await store.close();
      await scratch?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

describe.each(backends)('store on $name', ({ name: backend }) => {
  describe('migrations', () => {
    it('applies prisma/migrations once and records them as prisma migrate deploy does', async () => {
      const { store, dispose } = await freshStore(backend);
      try {
        const migrations = readMigrations();
        expect(migrations.length).toBeGreaterThan(0);
        const status = await store.migrationStatus();
        expect(status).toEqual({ applied: migrations.map((m) => m.name), pending: [], unknown: [] });
        const rows = await store.withPrisma((prisma) =>
          prisma.$queryRawUnsafe<{ migration_name: string; checksum: string; finished_at: Date | null; applied_steps_count: number; logs: string | null; rolled_back_at: Date | null }[]>(
            'SELECT migration_name, checksum, finished_at, applied_steps_count, logs, rolled_back_at FROM "_prisma_migrations" ORDER BY migration_name',
          ),
        );
        expect(rows.map((row) => row.migration_name)).toEqual(migrations.map((m) => m.name));
        for (const [i, row] of rows.entries()) {
          const file = readFileSync(join(defaultMigrationsDir(), row.migration_name, 'migration.sql'));
          expect(row.checksum).toBe(createHash('sha256').update(file).digest('hex'));
          expect(row.checksum).toBe(migrations[i]?.checksum);
          expect(row.finished_at).not.toBeNull();
          expect(row.applied_steps_count).toBe(1);
          expect(row.logs).toBeNull();
          expect(row.rolled_back_at).toBeNull();
        }
        expect(await store.migrate()).toEqual({ applied: [], alreadyApplied: migrations.map((m) => m.name), unknown: [] });
      } finally {
        await dispose();
      }
    });

    it('applies a new migration, and refuses a migration edited after it was applied', async () => {
      const dir = mkdtempSync(join(tmpdir(), 'strata-migrations-'));
      cpSync(defaultMigrationsDir(), dir, { recursive: true });
      const fresh = await freshStore(backend, { migrationsDir: dir });
      await fresh.store.close();
      try {
        cpSync(join(defaultMigrationsDir(), readMigrations()[0]?.name as string), join(dir, '29990101000000_extra'), { recursive: true });
        writeFileSync(join(dir, '29990101000000_extra', 'migration.sql'), '-- CreateTable\nCREATE TABLE "extra" ("id" INTEGER NOT NULL);\n');
        const again = await fresh.reopen({ migrationsDir: dir });
        expect((await again.migrationStatus()).pending).toEqual([]);
        expect(await again.withPrisma((p) => p.$queryRawUnsafe<{ n: number }[]>('SELECT count(*)::int AS n FROM "extra"'))).toEqual([{ n: 0 }]);
        await again.close();
        const first = readMigrations(dir)[0]?.name as string;
        writeFileSync(join(dir, first, 'migration.sql'), `${readFileSync(join(dir, first, 'migration.sql'), 'utf8')}\n-- edited\n`);
        await expect(fresh.reopen({ migrationsDir: dir })).rejects.toThrow(MigrationError);
        await expect(fresh.reopen({ migrationsDir: dir })).rejects.toThrow(/was changed after it was applied/);
        // A checksum taken with Windows line endings still matches (Prisma compares both ways).
        writeFileSync(join(dir, first, 'migration.sql'), readFileSync(join(defaultMigrationsDir(), first, 'migration.sql'), 'utf8').replaceAll('\n', '\r\n'));
        const crlf = await fresh.reopen({ migrationsDir: dir });
        await crlf.close();
      } finally {
        await fresh.dispose();
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('vectors', () => {
    let store: Store;
    let dispose: () => Promise<void>;
    const count = 300;
    const dimension = 16;
    let imageIds: Int32Array;
    let vectors: Float32Array;

    beforeAll(async () => {
      ({ store, dispose } = await freshStore(backend));
      ({ imageIds, vectors } = await createSyntheticDataset(store, { name: 'small', count, dimension, seed: 5, indexes: [] }));
    });
    afterAll(async () => dispose());

    it('reads back exactly the float32 values stored', async () => {
      const read = await store.readVectors('small', 'pool5');
      expect(read.dimension).toBe(dimension);
      expect(Array.from(read.imageIds)).toEqual(Array.from(imageIds).sort((a, b) => a - b));
      const order = Array.from(imageIds).map((id, row) => ({ id, row })).sort((a, b) => a.id - b.id);
      const expected = new Float32Array(count * dimension);
      order.forEach(({ row }, i) => expected.set(vectors.subarray(row * dimension, (row + 1) * dimension), i * dimension));
      expect(Buffer.from(read.vectors.buffer).equals(Buffer.from(expected.buffer))).toBe(true);
      const some = await store.readVectors('small', 'pool5', [{ sourceId: '7' }, { index: 3 }]);
      expect(some.imageIds.length).toBe(2);
    });

    it('adds nothing when the same vectors are inserted again', async () => {
      expect(await store.insertVectors('small', 'pool5', imageIds.subarray(0, 50), vectors.subarray(0, 50 * dimension))).toBe(0);
      expect((await store.getLayer('small', 'pool5')).vectorCount).toBe(count);
    });

    it('refuses vectors of the wrong dimension, non-finite values and foreign images, storing nothing', async () => {
      const before = await store.readVectors('small', 'pool5');
      await expect(store.insertVectors('small', 'pool5', [imageIds[0] as number], new Float32Array(dimension + 1))).rejects.toThrow(InvalidInputError);
      await expect(store.insertVectors('small', 'pool5', [imageIds[0] as number], new Float32Array(dimension + 1))).rejects.toThrow(
        /must be 1 x 16 = 16 float32 values \(this layer's dimension is 16\); got 17 values/,
      );
      const withNaN = new Float32Array(2 * dimension);
      withNaN[dimension + 3] = Number.NaN;
      await expect(store.insertVectors('small', 'pool5', [imageIds[0] as number, imageIds[1] as number], withNaN)).rejects.toThrow(/NaN at position 3/);
      await expect(store.insertVectors('small', 'pool5', [999_999], new Float32Array(dimension))).rejects.toThrow(NotFoundError);
      const after = await store.readVectors('small', 'pool5');
      expect(Buffer.from(after.vectors.buffer).equals(Buffer.from(before.vectors.buffer))).toBe(true);
    });

    it('names what exists when asked for an unknown dataset, layer or image', async () => {
      await expect(store.getDataset('nope')).rejects.toThrow(new NotFoundError('unknown dataset "nope"; the store has "small"'));
      await expect(store.getLayer('small', 'pool3')).rejects.toThrow(/dataset "small" has no layer "pool3"; it has pool5/);
      await expect(store.nearest({ dataset: 'small', layer: 'pool5', image: { sourceId: 'x.jpg' } })).rejects.toThrow(
        /dataset "small" has no image with id "x.jpg"; it has 300 images \(ids like "0", "1", "2"\)/,
      );
      await expect(store.nearest({ dataset: 'small', layer: 'pool5', vector: new Float32Array(3) })).rejects.toThrow(
        /query vector has 3 values; this layer's vectors have 16/,
      );
      await expect(store.nearest({ dataset: 'small', layer: 'pool5', image: { index: 0 }, k: 0 })).rejects.toThrow(/k must be an integer/);
    });
  });

  describe('nearest neighbours', () => {
    let store: Store;
    let dispose: () => Promise<void>;
    const count = 4000;
    const dimension = 64;
    let vectors: Float32Array;
    const queries = Array.from({ length: 40 }, (_, i) => i * 97);

    beforeAll(async () => {
      ({ store, dispose } = await freshStore(backend));
      ({ vectors } = await createSyntheticDataset(store, { name: 'clustered', count, dimension, vectors: clusteredVectors(count, dimension, { seed: 2, clusters: 40 }) }));
    });
    afterAll(async () => dispose());

    it.each([
      ['cosine', true],
      ['l2', true],
      ['cosine', false],
      ['l2', false],
    ] as [Metric, boolean][])('finds the exact %s neighbours with recall@10 >= 0.98 through the HNSW index (exact fallback: %s)', async (metric, exactFallback) => {
      let hits = 0;
      for (const row of queries) {
        const result = await store.nearest({ dataset: 'clustered', layer: 'pool5', image: { index: row }, k: 10, metric, exactFallback });
        if (!exactFallback) expect(result.usedExactFallback).toBe(false);
        expect(result.indexed).toBe(true);
        expect(result.layerReady).toBe(true);
        expect(result.neighbors).toHaveLength(10);
        expect(result.neighbors.some((n) => n.image.index === row)).toBe(false);
        const distances = result.neighbors.map((n) => n.distance);
        expect(distances).toEqual([...distances].sort((a, b) => a - b));
        const truth = new Set(exactNeighbors(vectors, dimension, row, 10, metric));
        hits += result.neighbors.filter((n) => truth.has(n.image.index)).length;
      }
      expect(hits / (10 * queries.length)).toBeGreaterThanOrEqual(0.98);
    });

    it('exact search returns the brute-force answer and its distances', async () => {
      for (const row of queries.slice(0, 10)) {
        const result = await store.nearest({ dataset: 'clustered', layer: 'pool5', image: { index: row }, k: 10, mode: 'exact' });
        expect(result.neighbors.map((n) => n.image.index)).toEqual(Array.from(exactNeighbors(vectors, dimension, row, 10, 'cosine')));
        const q = vectors.subarray(row * dimension, (row + 1) * dimension);
        const first = result.neighbors[0] as { image: { index: number }; distance: number };
        const v = vectors.subarray(first.image.index * dimension, (first.image.index + 1) * dimension);
        let dot = 0;
        let qq = 0;
        let vv = 0;
        for (let j = 0; j < dimension; j++) {
          dot += (q[j] as number) * (v[j] as number);
          qq += (q[j] as number) ** 2;
          vv += (v[j] as number) ** 2;
        }
        expect(first.distance).toBeCloseTo(1 - dot / Math.sqrt(qq * vv), 5);
      }
    });

    it('re-ranks 4k index candidates by exact distance, and searches by a vector', async () => {
      const row = queries[3] as number;
      const rerank = await store.nearest({ dataset: 'clustered', layer: 'pool5', image: { index: row }, k: 10, mode: 'rerank' });
      expect(rerank.neighbors.map((n) => n.image.index)).toEqual(Array.from(exactNeighbors(vectors, dimension, row, 10, 'cosine')));
      const byVector = await store.nearest({ dataset: 'clustered', layer: 'pool5', vector: vectors.slice(row * dimension, (row + 1) * dimension), k: 3 });
      expect(byVector.query).toBeNull();
      expect(byVector.neighbors[0]?.image.index).toBe(row);
      expect(byVector.neighbors[0]?.distance).toBeCloseTo(0, 6);
    });
  });
});

describe('store on pglite only', () => {
  it('keeps a second process off an embedded database in use', async () => {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-store-lock-'));
    const store = await openStore({ dataDir });
    try {
      // The lock names this process; a different live pid (our parent) must be refused.
      writeFileSync(join(dataDir, 'pglite.lock'), String(process.ppid));
      await expect(openStore({ dataDir })).rejects.toThrow(new RegExp(`in use by process ${process.ppid}`));
      writeFileSync(join(dataDir, 'pglite.lock'), String(process.pid));
      await expect(openStore({ dataDir })).rejects.toThrow(/in use by another store of this process/);
      await store.close();
      // A lock left by a dead process (kill -9) is taken over.
      writeFileSync(join(dataDir, 'pglite.lock'), '999999999');
      const again = await openStore({ dataDir });
      await again.close();
    } finally {
      await store.close();
      rmSync(dataDir, { recursive: true, force: true });
    }
  });

  it('puts the data folder under STRATA_DATA_DIR, XDG_DATA_HOME or ~/.local/share', () => {
    expect(defaultDataDir({ STRATA_DATA_DIR: '/d', XDG_DATA_HOME: '/x' }, '/home/u')).toBe('/d');
    expect(defaultDataDir({ XDG_DATA_HOME: '/x' }, '/home/u')).toBe('/x/strata');
    expect(defaultDataDir({}, '/home/u')).toBe('/home/u/.local/share/strata');
  });
});
