#!/usr/bin/env node
// The vector store at NSD scale: insert rate, HNSW build time, query latency (p50/p95) and
// recall@k of the HNSW search against exact search, on embedded PGlite and on a Postgres
// server, for clustered synthetic 256-d vectors (PCA-shaped: variance falls with the component).
//
//   node bench/store/run.mjs [--sizes 10000,73000] [--dimension 256] [--queries 200] [--k 10]
//                            [--backends pglite,postgres] [--ef-search N] [--json FILE]
// 'hnsw' is the default query (index, plus exact search for the rare query whose index search
// misses the query image itself); 'index only' is the index without that fallback.
// The server comes from STRATA_BENCH_DATABASE_URL, else `scripts/postgres-server.sh url`; each
// run uses a fresh database on it.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { clusteredVectors, createScratchDatabase, createSyntheticDataset, exactNeighbors, openStore } from '@strata/core/store';

const root = resolve(import.meta.dirname, '../..');
const { values } = parseArgs({
  options: {
    sizes: { type: 'string', default: '10000,73000' },
    dimension: { type: 'string', default: '256' },
    queries: { type: 'string', default: '200' },
    k: { type: 'string', default: '10' },
    backends: { type: 'string', default: 'pglite,postgres' },
    'ef-search': { type: 'string' },
    json: { type: 'string' },
  },
});
const dimension = Number(values.dimension);
const queries = Number(values.queries);
const k = Number(values.k);
const efSearch = values['ef-search'] === undefined ? undefined : Number(values['ef-search']);

function serverUrl() {
  if (process.env.STRATA_BENCH_DATABASE_URL) return process.env.STRATA_BENCH_DATABASE_URL;
  return execFileSync('bash', [join(root, 'scripts/postgres-server.sh'), 'url'], { encoding: 'utf8' }).trim();
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

async function timeQueries(store, name, queryRows, mode, metric, exactFallback = true) {
  const times = [];
  const answers = [];
  let fallbacks = 0;
  for (const row of queryRows) {
    const t = performance.now();
    const result = await store.nearest({ dataset: name, layer: 'pool5', image: { index: row }, k, metric, mode, efSearch, exactFallback });
    times.push(performance.now() - t);
    answers.push(result.neighbors.map((n) => n.image.index));
    if (result.usedExactFallback) fallbacks += 1;
  }
  times.sort((a, b) => a - b);
  return { p50: percentile(times, 0.5), p95: percentile(times, 0.95), answers, fallbacks };
}

function recall(answers, truth) {
  let hits = 0;
  answers.forEach((answer, i) => {
    const expected = new Set(truth[i]);
    hits += answer.filter((index) => expected.has(index)).length;
  });
  return hits / (answers.length * k);
}

const results = [];
console.log(`vector store: ${dimension}-d clustered vectors, ${queries} queries, k = ${k}, ${cpus().length} cores`);
for (const size of values.sizes.split(',').map(Number)) {
  const vectors = clusteredVectors(size, dimension, { seed: 1, clusters: 100 });
  const queryRows = Array.from({ length: queries }, (_, i) => Math.floor(((i + 0.5) * size) / queries));
  const t0 = performance.now();
  const truth = { cosine: [], l2: [] };
  for (const row of queryRows) {
    truth.cosine.push(Array.from(exactNeighbors(vectors, dimension, row, k, 'cosine')));
    truth.l2.push(Array.from(exactNeighbors(vectors, dimension, row, k, 'l2')));
  }
  console.log(`\n${size} vectors (exact answers computed in JS in ${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  for (const backend of values.backends.split(',')) {
    const dataDir = mkdtempSync(join(tmpdir(), 'strata-bench-store-'));
    const server = backend === 'postgres' ? await createScratchDatabase(serverUrl(), 'strata_bench') : undefined;
    const store = await openStore({ dataDir, databaseUrl: server?.url });
    try {
      const created = await createSyntheticDataset(store, { name: 'bench', count: size, dimension, vectors });
      const hnsw = await timeQueries(store, 'bench', queryRows, 'hnsw', 'cosine');
      const hnswL2 = await timeQueries(store, 'bench', queryRows, 'hnsw', 'l2');
      // The index alone, without the exact fallback for stranded searches.
      const raw = await timeQueries(store, 'bench', queryRows, 'hnsw', 'cosine', false);
      const rawL2 = await timeQueries(store, 'bench', queryRows, 'hnsw', 'l2', false);
      const rerank = await timeQueries(store, 'bench', queryRows, 'rerank', 'cosine');
      const exact = await timeQueries(store, 'bench', queryRows.slice(0, Math.min(queryRows.length, 50)), 'exact', 'cosine');
      const row = {
        backend,
        size,
        dimension,
        insertPerSecond: size / (created.insertMs / 1000),
        indexSeconds: { cosine: created.indexMs.cosine / 1000, l2: created.indexMs.l2 / 1000 },
        hnsw: { p50: hnsw.p50, p95: hnsw.p95, recall: recall(hnsw.answers, truth.cosine), fallbacks: hnsw.fallbacks },
        hnswL2: { p50: hnswL2.p50, p95: hnswL2.p95, recall: recall(hnswL2.answers, truth.l2), fallbacks: hnswL2.fallbacks },
        indexOnly: { p50: raw.p50, p95: raw.p95, recall: recall(raw.answers, truth.cosine) },
        indexOnlyL2: { p50: rawL2.p50, p95: rawL2.p95, recall: recall(rawL2.answers, truth.l2) },
        rerank: { p50: rerank.p50, p95: rerank.p95, recall: recall(rerank.answers, truth.cosine) },
        exact: { p50: exact.p50, p95: exact.p95, recall: recall(exact.answers, truth.cosine.slice(0, exact.answers.length)) },
      };
      results.push(row);
      console.log(
        `  ${backend.padEnd(8)} insert ${row.insertPerSecond.toFixed(0)} vec/s | HNSW build cosine ${row.indexSeconds.cosine.toFixed(1)} s, l2 ${row.indexSeconds.l2.toFixed(1)} s`,
      );
      const rows = [
        ['hnsw cosine', row.hnsw],
        ['hnsw l2', row.hnswL2],
        ['index only cos', row.indexOnly],
        ['index only l2', row.indexOnlyL2],
        ['rerank cosine', row.rerank],
        ['exact cosine', row.exact],
      ];
      for (const [label, r] of rows) {
        const note = r.fallbacks === undefined ? '' : `  (${r.fallbacks} exact fallbacks)`;
        console.log(`    ${label.padEnd(14)} p50 ${r.p50.toFixed(1)} ms  p95 ${r.p95.toFixed(1)} ms  recall@${k} ${r.recall.toFixed(4)}${note}`);
      }
    } finally {
      await store.close();
      await server?.drop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
}
if (values.json) writeFileSync(values.json, JSON.stringify(results, null, 1));
