#!/usr/bin/env node
// The GraphQL API under load: requests/s and latency (p50/p95/p99) of nearestNeighbors at NSD
// scale (73,000 PCA vectors of 256 dimensions, clustered like PCA output, HNSW cosine index)
// with 32 concurrent clients (autocannon, keep-alive), against `strata serve` on the embedded
// database (PGlite in its own process behind the wire server) and on a Postgres server.
//
//   node bench/api/run.mjs [--count 73000] [--dimension 256] [--connections 32] [--duration 20]
//                          [--k 10] [--backends pglite,postgres] [--json FILE]
//
// The server comes from STRATA_BENCH_DATABASE_URL, else `scripts/postgres-server.sh url`; each
// run uses a fresh database on it. `strata serve` runs with no workers (nothing else to do) in
// its own process; autocannon runs in this one. Every request is a different query image.
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { runningEmbeddedDatabase } from '@strata/api';
import { createApiToken, createScratchDatabase, createSyntheticDataset, ensureApiSchema, openStore } from '@strata/core/store';

const root = resolve(import.meta.dirname, '../..');
const CLI = join(root, 'apps/cli/bin/strata.js');
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '73000' },
    dimension: { type: 'string', default: '256' },
    connections: { type: 'string', default: '32' },
    duration: { type: 'string', default: '20' },
    warmup: { type: 'string', default: '3' },
    k: { type: 'string', default: '10' },
    backends: { type: 'string', default: 'pglite,postgres' },
    json: { type: 'string' },
  },
});
const count = Number(values.count);
const dimension = Number(values.dimension);
const connections = Number(values.connections);
const duration = Number(values.duration);
const k = Number(values.k);

function serverUrl() {
  if (process.env.STRATA_BENCH_DATABASE_URL) return process.env.STRATA_BENCH_DATABASE_URL;
  return execFileSync('bash', [join(root, 'scripts/postgres-server.sh'), 'url'], { encoding: 'utf8' }).trim();
}

const percentile = (sorted, p) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))];

function startServe(data, env) {
  const child = spawn(process.execPath, [...(process.env.STRATA_BENCH_NODE_FLAGS?.split(' ').filter(Boolean) ?? []), CLI, 'serve', '--port', '0', '--workers', '0', '--data', data], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.setEncoding('utf8').on('data', (text) => (err += text));
  return new Promise((resolveUrl, reject) => {
    let out = '';
    child.stdout.setEncoding('utf8').on('data', (text) => {
      out += text;
      const match = /listening on (http:\/\/\S+)\/graphql/.exec(out);
      if (match) resolveUrl({ child, url: match[1] });
    });
    child.once('exit', (code) => reject(new Error(`strata serve exited (${code}): ${out}\n${err}`)));
  });
}

async function stopServe(child) {
  if (child.exitCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  await exited;
}

function load(url, token, imageIds, seconds) {
  const times = [];
  let next = 0;
  const query = `query($id: ID!) { nearestNeighbors(imageId: $id, layer: "pool5", k: ${k}) { image { id sourceId } distance } }`;
  return new Promise((done, reject) => {
    const instance = autocannon(
      {
        url: `${url}/graphql`,
        connections,
        duration: seconds,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        requests: [
          {
            setupRequest: (request) => {
              const id = imageIds[next++ % imageIds.length];
              return { ...request, body: JSON.stringify({ query, variables: { id: String(id) } }) };
            },
          },
        ],
      },
      (error, result) => (error ? reject(error) : done({ result, times })),
    );
    instance.on('response', (_client, _status, _bytes, responseTime) => times.push(responseTime));
  });
}

async function runBackend(backend) {
  const data = mkdtempSync(join(tmpdir(), `strata-bench-api-${backend}-`));
  const scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl(), 'strata_bench_api') : undefined;
  const { DATABASE_URL: _ignored, ...base } = process.env;
  const env = { ...base, ...(scratch ? { DATABASE_URL: scratch.url } : {}) };
  const { child, url } = await startServe(data, env);
  try {
    const dbUrl = scratch ? scratch.url : runningEmbeddedDatabase(data)?.url;
    const store = await openStore({ databaseUrl: dbUrl, dataDir: data });
    let token;
    let imageIds;
    let setup;
    try {
      await ensureApiSchema(store);
      const t = performance.now();
      const made = await createSyntheticDataset(store, { name: 'bench', count, dimension, indexes: ['cosine'], seed: 1 });
      setup = { insertS: made.insertMs / 1000, indexS: (made.indexMs.cosine ?? 0) / 1000, totalS: (performance.now() - t) / 1000 };
      imageIds = Array.from({ length: 2000 }, (_, i) => made.imageIds[(i * 7919) % count]);
      ({ token } = await createApiToken(store, { user: 'bench', role: 'viewer' }));
    } finally {
      await store.close();
    }
    console.log(`${backend}: ${count} vectors x ${dimension} stored in ${setup.insertS.toFixed(0)} s, HNSW (cosine) in ${setup.indexS.toFixed(0)} s`);
    // One query by hand first: a GraphQL error would still be HTTP 200 under load.
    const probe = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: `{ nearestNeighbors(imageId: ${imageIds[0]}, layer: "pool5", k: ${k}) { distance } }` }),
    }).then((response) => response.json());
    if (probe.errors || probe.data?.nearestNeighbors?.length !== k) throw new Error(`probe query failed: ${JSON.stringify(probe)}`);
    await load(url, token, imageIds, Number(values.warmup));
    const { result, times } = await load(url, token, imageIds, duration);
    times.sort((a, b) => a - b);
    const row = {
      backend,
      vectors: count,
      dimension,
      connections,
      durationS: duration,
      requests: result.requests.total,
      requestsPerSecond: result.requests.total / duration,
      p50Ms: percentile(times, 0.5),
      p95Ms: percentile(times, 0.95),
      p99Ms: percentile(times, 0.99),
      errors: result.errors + result.timeouts,
      non2xx: result.non2xx,
      setup,
    };
    console.log(
      `${backend}: ${row.requestsPerSecond.toFixed(0)} req/s, p50 ${row.p50Ms.toFixed(1)} ms, p95 ${row.p95Ms.toFixed(1)} ms, p99 ${row.p99Ms.toFixed(1)} ms (${row.requests} requests, ${row.errors} errors, ${row.non2xx} non-2xx)`,
    );
    return row;
  } finally {
    await stopServe(child);
    await scratch?.drop();
    rmSync(data, { recursive: true, force: true });
  }
}

const rows = [];
console.log(`nearestNeighbors(k: ${k}) over HTTP, ${connections} clients, ${duration} s each; ${cpus().length} cores (${cpus()[0]?.model ?? '?'})`);
for (const backend of values.backends.split(',')) rows.push(await runBackend(backend));
console.log('\n| | requests/s | p50 | p95 | p99 | errors |\n| --- | --- | --- | --- | --- | --- |');
for (const row of rows) {
  console.log(`| ${row.backend} (${row.vectors.toLocaleString('en')} x ${row.dimension}) | ${row.requestsPerSecond.toFixed(0)} | ${row.p50Ms.toFixed(1)} ms | ${row.p95Ms.toFixed(1)} ms | ${row.p99Ms.toFixed(1)} ms | ${row.errors + row.non2xx} |`);
}
if (values.json) writeFileSync(values.json, `${JSON.stringify(rows, null, 2)}\n`);
