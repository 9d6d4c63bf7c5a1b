#!/usr/bin/env node
// A stored map end to end (packages/core/dist): N synthetic PCA-like vectors stored as one
// layer, then computeMap (read the vectors, t-SNE, store the points) and a second computeMap
// (the stored map). Reports each stage and this process's peak RSS (store included).
//
//   npm run build -w @strata/core
//   node bench/tsne/map.mjs [20000] [--dim 256] [--database-url postgres://...]
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { principalAxes, synthetic } from './data.mjs';

const root = resolve(import.meta.dirname, '../..');
const load = async (path) => import(pathToFileURL(join(root, 'packages/core/dist', path)).href);
const { openStore, createSyntheticDataset } = await load('store/index.js');
const { computeMap } = await load('maps/index.js');

const { values, positionals } = parseArgs({ allowPositionals: true, options: { dim: { type: 'string', default: '256' }, 'database-url': { type: 'string' } } });
const n = Number(positionals[0] ?? 20000);
const dim = Number(values.dim);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-map-'));
const fmt = () => loadavg().map((v) => v.toFixed(1)).join(' ');
const store = await openStore({ dataDir: dir, ...(values['database-url'] ? { databaseUrl: values['database-url'] } : {}) });
try {
  console.log(`stored map of ${n} x ${dim} (PCA of synthetic clusters) on ${store.backend}; load ${fmt()}`);
  const vectors = principalAxes(synthetic(n, dim), n, dim, dir);
  let t = performance.now();
  await createSyntheticDataset(store, { name: 'bench', layer: 'pool5', count: n, dimension: dim, vectors, indexes: [] });
  console.log(`insert: ${((performance.now() - t) / 1000).toFixed(1)} s`);
  t = performance.now();
  const cpu = process.cpuUsage();
  const map = await computeMap(store, { dataset: 'bench', layer: 'pool5' });
  const used = process.cpuUsage(cpu);
  const timings = Object.entries(map.details.timings ?? {}).map(([k, v]) => `${k} ${v.toFixed(1)} s`).join(', ');
  console.log(`computeMap: ${((performance.now() - t) / 1000).toFixed(1)} s wall, ${((used.user + used.system) / 1e6).toFixed(1)} s CPU (${timings}); ${map.method}, KL ${map.klDivergence?.toFixed(4)}`);
  t = performance.now();
  const again = await computeMap(store, { dataset: 'bench', layer: 'pool5' });
  console.log(`computeMap again (stored map ${again.id === map.id ? 'reused' : 'NOT reused'}): ${((performance.now() - t) / 1000).toFixed(2)} s`);
  console.log(`peak RSS ${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB; load ${fmt()}`);
} finally {
  await store.close();
  rmSync(dir, { recursive: true, force: true });
}
