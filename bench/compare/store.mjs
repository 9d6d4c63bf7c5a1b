#!/usr/bin/env node
// Comparisons of a stored dataset: the layer x layer matrices and a brain RDM on the PCA vectors
// in the store (reading them back included), the first time and when reused, on embedded PGlite
// and on a Postgres server. Synthetic 18-layer PCA-like features (bench/compare/synthetic.mjs),
// inserted through the store's API (not timed).
//
//   node bench/compare/store.mjs [--images 5000] [--layers 18] [--dimension 256] [--backends pglite,postgres] [--metrics cka,rsa,knn,rdm]
// The server comes from STRATA_BENCH_DATABASE_URL, else `scripts/postgres-server.sh url`; each
// run uses a fresh database on it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { correlateBrainRdm, layerSimilarityMatrix, rdmUpperTriangle, validateRdm } from '@strata/core/compare';
import { createRandom } from '@strata/core';
import { createScratchDatabase, openStore } from '@strata/core/store';
import { syntheticLayers } from './synthetic.mjs';

const root = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    images: { type: 'string', default: '5000' },
    layers: { type: 'string', default: '18' },
    dimension: { type: 'string', default: '256' },
    backends: { type: 'string', default: 'pglite,postgres' },
    metrics: { type: 'string', default: 'cka,rsa,knn,rdm' },
  },
});
const images = Number(values.images);
const layerCount = Number(values.layers);
const dimension = Number(values.dimension);
const NAMES = ['conv1', 'conv2', 'pool1', 'conv3', 'conv4', 'pool2', 'conv5', 'conv6', 'conv7', 'pool3', 'conv8', 'conv9', 'conv10', 'pool4', 'conv11', 'conv12', 'conv13', 'pool5'];

function serverUrl() {
  if (process.env.STRATA_BENCH_DATABASE_URL) return process.env.STRATA_BENCH_DATABASE_URL;
  return execFileSync('bash', [join(root, 'scripts/postgres-server.sh'), 'url'], { encoding: 'utf8' }).trim();
}

const layers = syntheticLayers({ images, dimension, layers: layerCount, seed: 1 }).map((layer, l) => ({ ...layer, name: NAMES[l] }));
console.log(`${images} images x ${layerCount} layers x ${dimension}-d stored vectors, ${cpus().length} cores, load ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
console.log('backend   what                        first s  reused s');

for (const backend of values.backends.split(',')) {
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-bench-compare-store-'));
  const scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl(), 'strata_bench_compare') : undefined;
  const store = await openStore({ dataDir, databaseUrl: scratch?.url });
  try {
    const imageIds = await store.withPrisma(async (prisma) => {
      const model = await prisma.model.create({ data: { name: 'synthetic', sha256: 'b'.repeat(64) } });
      const dataset = await prisma.dataset.create({ data: { name: 'bench', sourceKind: 'hdf5', sourcePath: '(synthetic)', imageCount: images, modelId: model.id } });
      await prisma.image.createMany({ data: Array.from({ length: images }, (_, i) => ({ datasetId: dataset.id, index: i, sourceId: String(i), width: 1, height: 1 })) });
      for (const { name } of layers) await prisma.datasetLayer.create({ data: { datasetId: dataset.id, layer: name, modelId: model.id, components: dimension, status: 'ready' } });
      return Int32Array.from(await prisma.image.findMany({ where: { datasetId: dataset.id }, orderBy: { index: 'asc' }, select: { id: true } }), (row) => row.id);
    });
    for (const { name, features } of layers) {
      for (let start = 0; start < images; start += 2000) {
        const end = Math.min(images, start + 2000);
        await store.insertVectors('bench', name, imageIds.subarray(start, end), features.data.subarray(start * dimension, end * dimension));
      }
    }
    const time = async (what, task) => {
      const started = performance.now();
      await task();
      const first = (performance.now() - started) / 1000;
      const again = performance.now();
      await task();
      const reused = (performance.now() - again) / 1000;
      console.log(`${backend.padEnd(8)}  ${what.padEnd(26)}  ${first.toFixed(2).padStart(7)}  ${reused.toFixed(2).padStart(8)}`);
    };
    const readStarted = performance.now();
    await store.readVectors('bench', layers[0].name);
    console.log(`${backend.padEnd(8)}  read one layer (store.readVectors)  ${((performance.now() - readStarted) / 1000).toFixed(2).padStart(7)}`);
    const metrics = values.metrics.split(',');
    for (const metric of metrics.filter((m) => m !== 'rdm')) await time(`${metric} ${layerCount} x ${layerCount}`, () => layerSimilarityMatrix(store, { dataset: 'bench', metric }));
    if (!metrics.includes('rdm')) continue;
    // A brain RDM over 1,000 images: the middle layer's RDM plus noise.
    const rows = Int32Array.from({ length: Math.min(1000, images) }, (_, i) => Math.floor((i * images) / Math.min(1000, images)));
    const upper = await rdmUpperTriangle(layers[Math.floor(layerCount / 2)].features, { rows });
    const m = rows.length;
    const noise = createRandom(3);
    const square = new Float64Array(m * m);
    for (let i = 0, p = 0; i < m; i++) for (let j = i + 1; j < m; j++, p++) square[i * m + j] = square[j * m + i] = upper[p] + 0.5 * noise.next();
    const rdm = validateRdm(square, m, Array.from(rows, (r) => String(r)), 'brain');
    await time(`rdm ${m} images, 1000 perms`, () => correlateBrainRdm(store, { dataset: 'bench', rdm }));
  } finally {
    await store.close();
    await scratch?.drop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}
