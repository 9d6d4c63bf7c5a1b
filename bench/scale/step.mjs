#!/usr/bin/env node
// One step of the NSD-scale benchmark (bench/scale/run.mjs), in a process of its own so that
// its peak resident memory is its own: `node step.mjs STEP CONFIG_JSON`. Prints one line
// `RESULT {...}` with what it measured, its wall time and the process's peak RSS.
import { existsSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { computeMap, buildDatasetAtlas, getMap, renderStoredMosaic } from '@strata/core/maps';
import { writeImageBrick } from '@strata/core/sources';
import { addSyntheticLayer, createSyntheticDataset, ensureApiSchema, exactNeighbors, openStore } from '@strata/core/store';
import { layerVectors, syntheticImages } from './synthetic.mjs';

const [step, configText] = process.argv.slice(2);
const config = JSON.parse(configText ?? '{}');
const LAYERS = ['pool5', 'pool1'];
const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function withStore(task) {
  const store = await openStore({ dataDir: config.dataDir, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) });
  try {
    return await task(store);
  } finally {
    await store.close();
  }
}

const steps = {
  /** The images as an HDF5 brick (kept between runs: same count, size and seed, same file). */
  async images() {
    const marker = `${config.brick}.json`;
    const wanted = JSON.stringify({ count: config.count, size: config.size, seed: config.seed });
    if (existsSync(config.brick) && existsSync(marker) && readFileSync(marker, 'utf8') === wanted) return { reused: true };
    const partial = `${config.brick}.partial`;
    rmSync(partial, { force: true });
    const written = await writeImageBrick(partial, config.size, config.size, syntheticImages(config.count, config.size, config.seed));
    renameSync(partial, config.brick);
    writeFileSync(marker, wanted);
    return { reused: false, images: written };
  },

  /** Dataset, image rows and both layers' vectors (no indexes yet). */
  async ingest() {
    const vectors = layerVectors(config.count, config.dimension, config.seed);
    return withStore(async (store) => {
      await ensureApiSchema(store);
      const source = { path: config.brick, width: config.size, height: config.size };
      const started = performance.now();
      const first = await createSyntheticDataset(store, { name: config.name, layer: LAYERS[0], count: config.count, dimension: config.dimension, vectors: vectors[LAYERS[0]], indexes: [], source });
      const second = await addSyntheticLayer(store, { dataset: config.name, layer: LAYERS[1], imageIds: first.imageIds, dimension: config.dimension, vectors: vectors[LAYERS[1]], indexes: [] });
      const insertS = (first.insertMs + second.insertMs) / 1000;
      return { rowsS: (performance.now() - started) / 1000 - insertS, insertS, vectorsPerSecond: (2 * config.count) / insertS };
    });
  },

  /** The cosine HNSW index of each layer (m = 16, ef_construction = 128). */
  async index() {
    return withStore(async (store) => {
      const seconds = {};
      for (const layer of LAYERS) {
        const t = performance.now();
        await store.buildIndexes(config.name, layer, ['cosine']);
        seconds[layer] = (performance.now() - t) / 1000;
      }
      return { seconds };
    });
  },

  /** nearestNeighbors (k = 10) of 200 stored images per layer: latency, and recall@10 against exact answers. */
  async query() {
    const vectors = layerVectors(config.count, config.dimension, config.seed);
    return withStore(async (store) => {
      const out = {};
      for (const layer of LAYERS) {
        const times = [];
        let hits = 0;
        let fallbacks = 0;
        const queries = Array.from({ length: 200 }, (_, i) => (i * 7919 + 13) % config.count);
        await store.nearest({ dataset: config.name, layer, image: { sourceId: String(queries[0]) }, k: 10 });
        for (const row of queries) {
          const t = performance.now();
          const result = await store.nearest({ dataset: config.name, layer, image: { sourceId: String(row) }, k: 10 });
          times.push(performance.now() - t);
          if (result.usedExactFallback) fallbacks += 1;
          const exact = new Set(exactNeighbors(vectors[layer], config.dimension, row, 10, 'cosine'));
          for (const neighbor of result.neighbors) if (exact.has(neighbor.image.index)) hits += 1;
        }
        times.sort((a, b) => a - b);
        out[layer] = { p50Ms: percentile(times, 0.5), p95Ms: percentile(times, 0.95), recall: hits / (10 * queries.length), fallbacks, queries: queries.length };
      }
      return out;
    });
  },

  /** The t-SNE map of one layer (perplexity 30, 1000 iterations, seed 0, method auto). */
  async tsne() {
    return withStore(async (store) => {
      const map = await computeMap(store, { dataset: config.name, layer: config.layer, threads: config.threads ?? availableParallelism() });
      return { mapId: map.id, method: map.method, klDivergence: map.klDivergence, points: map.pointCount, timings: map.details?.timings ?? null };
    });
  },

  /** The recipe's 4000 x 3000 mosaic of a layer's map (100 px tiles). */
  async mosaic() {
    return withStore(async (store) => {
      const map = await getMap(store, { dataset: config.name, layer: config.layer });
      if (!map) throw new Error(`no map of ${config.layer}`);
      const result = await renderStoredMosaic(store, map.id);
      return { path: result.path, placed: result.placed, failures: result.failures.length, width: result.width, height: result.height };
    });
  },

  /** The dataset's thumbnail atlas for the web viewer (32, 64, 128 px; 2048 px WebP sheets). */
  async atlas() {
    return withStore(async (store) => {
      const result = await buildDatasetAtlas(store, config.name);
      const bySize = {};
      for (const sheet of result.sheets) bySize[sheet.size] = (bySize[sheet.size] ?? 0) + 1;
      return { images: result.images, failures: result.failures, sheets: result.sheets.length, sheetsBySize: bySize, atlasDir: result.atlasDir };
    });
  },
};

const run = steps[step];
if (!run) throw new RangeError(`unknown step "${step}"; expected one of ${Object.keys(steps).join(', ')}`);
const started = performance.now();
const result = await run();
const usage = process.resourceUsage();
console.log(`RESULT ${JSON.stringify({ step, ...result, wallS: (performance.now() - started) / 1000, cpuS: (usage.userCPUTime + usage.systemCPUTime) / 1e6, peakRssMiB: usage.maxRSS / 1024 })}`);
