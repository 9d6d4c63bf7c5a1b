#!/usr/bin/env node
// The neighbour search of t-SNE alone (packages/core/dist): time and recall of the approximate
// search (random-projection forest + neighbour descent) against exact neighbours of a fixed
// sample of query points, at the k t-SNE uses (3 x perplexity + 1 = 91).
//
//   npm run build -w @strata/core
//   node bench/tsne/knn.mjs [73000] [--dim 256] [--data pca|synthetic] [--threads N] [--queries 300]
//       [--trees 8] [--rounds 4] [--breadth 32]
import { mkdtempSync, rmSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generator, principalAxes, synthetic } from './data.mjs';

const root = resolve(import.meta.dirname, '../..');
const { createExecutor, nearestNeighbors, defaultApproxSettings } = await import(pathToFileURL(join(root, 'packages/core/dist/tsne/index.js')).href);
const { createRandom } = await import(pathToFileURL(join(root, 'packages/core/dist/random.js')).href);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    dim: { type: 'string', default: '256' },
    data: { type: 'string', default: 'pca' },
    threads: { type: 'string', default: String(availableParallelism()) },
    queries: { type: 'string', default: '300' },
    trees: { type: 'string' },
    rounds: { type: 'string' },
    breadth: { type: 'string' },
    k: { type: 'string', default: '91' },
  },
});
const n = Number(positionals[0] ?? 73000);
const dim = Number(values.dim);
const k = Number(values.k);
const scratch = mkdtempSync(join(tmpdir(), 'strata-bench-knn-'));
try {
  let x = synthetic(n, dim);
  if (values.data === 'pca') x = principalAxes(x, n, dim, scratch);
  const settings = { ...defaultApproxSettings(k) };
  if (values.trees) settings.trees = Number(values.trees);
  if (values.rounds) settings.maxRounds = Number(values.rounds);
  if (values.breadth) settings.breadth = Number(values.breadth);
  const executor = createExecutor(Number(values.threads));
  const shared = new Float32Array(new SharedArrayBuffer(x.byteLength));
  shared.set(x);
  console.log(`n ${n}, dim ${dim} (${values.data}), k ${k}, threads ${executor.threads}, settings ${JSON.stringify(settings)}; load ${loadavg().map((v) => v.toFixed(1)).join(' ')}`);
  const cpu = process.cpuUsage();
  const started = performance.now();
  const graph = await nearestNeighbors(executor, shared, n, dim, k, 'approx', createRandom(0), undefined, settings);
  const seconds = (performance.now() - started) / 1000;
  const used = process.cpuUsage(cpu);
  await executor.close();

  // Exact neighbours of a fixed sample of queries, by brute force in float64.
  const { next } = generator(9);
  const queries = Array.from({ length: Number(values.queries) }, () => Math.floor(next() * n));
  let hits = 0;
  let hits30 = 0;
  const dist = new Float64Array(n);
  const order = new Int32Array(n);
  for (const q of queries) {
    for (let j = 0; j < n; j++) {
      let s = 0;
      for (let d = 0; d < dim; d++) {
        const t = x[q * dim + d] - x[j * dim + d];
        s += t * t;
      }
      dist[j] = j === q ? Infinity : s;
      order[j] = j;
    }
    order.sort((a, b) => dist[a] - dist[b] || a - b);
    const truth = new Set(order.subarray(0, k));
    const truth30 = new Set(order.subarray(0, 30));
    const found = graph.indices.subarray(q * k, (q + 1) * k);
    for (const j of found) {
      if (truth.has(j)) hits++;
      if (truth30.has(j)) hits30++;
    }
  }
  console.log(
    `approx kNN: ${seconds.toFixed(1)} s wall, ${((used.user + used.system) / 1e6).toFixed(1)} s CPU; recall@${k} ${(hits / (queries.length * k)).toFixed(4)}, ` +
      `recall of the 30 nearest ${(hits30 / (queries.length * 30)).toFixed(4)} (${queries.length} queries); load ${loadavg().map((v) => v.toFixed(1)).join(' ')}`,
  );
} finally {
  rmSync(scratch, { recursive: true, force: true });
}
