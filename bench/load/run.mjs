#!/usr/bin/env node
// The API under a mixed load, as a lab's web app and scripts use it: 32 concurrent clients for
// 60 s sending nearestNeighbors (k = 10, pool5 or pool1), images (pages of 100) and tsneMap
// (the map's status and a page of 100 points) over HTTP on 127.0.0.1, against the server
// topology: a Postgres server (pgvector), the API and its workers in processes of their own.
// The dataset: 73,000 images, two layers of 256-d clustered synthetic vectors with cosine HNSW
// indexes, and a t-SNE map of each layer computed by the workers (computeMap). Every answer is
// checked against what was stored (neighbour distances recomputed here, pages and map points
// compared), so a fast wrong answer counts as a failure. Prints requests/s, p50/p95/p99 per
// query kind and the error count; exits 1 on any error or wrong answer.
//
//   node bench/load/run.mjs [--count 73000] [--dimension 256] [--connections 32] [--duration 60]
//                           [--warmup 5] [--mix nearestNeighbors=2,images=1,tsneMap=1]
//                           [--iterations 1000] [--workers 1] [--json FILE]
//
// Topology (--topology): `script` is scripts/topology.mjs (its own Postgres instance, the API
// with no workers, separate `strata worker` processes; stopped and removed afterwards); `serve`
// is `strata serve --workers N` on a fresh database of STRATA_BENCH_DATABASE_URL, else of
// scripts/postgres-server.sh's shared server (started if not running, and left running);
// `auto` (default) is `script` when scripts/topology.mjs exists.
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { createScratchDatabase } from '@strata/core/store';
import { QUERY_KINDS, computeMaps, postgresServerUrl, prepareDataset, runLoad, startServe, treeRss } from './harness.mjs';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '73000' },
    dimension: { type: 'string', default: '256' },
    connections: { type: 'string', default: '32' },
    duration: { type: 'string', default: '60' },
    warmup: { type: 'string', default: '5' },
    mix: { type: 'string', default: 'nearestNeighbors=2,images=1,tsneMap=1' },
    iterations: { type: 'string', default: '1000' },
    workers: { type: 'string', default: '1' },
    topology: { type: 'string', default: 'auto' },
    json: { type: 'string' },
  },
});
const mix = Object.fromEntries(
  values.mix.split(',').map((part) => {
    const [kind, weight] = part.split('=');
    if (!QUERY_KINDS.includes(kind) || !(Number(weight) >= 0)) throw new RangeError(`--mix ${values.mix}: expected kind=weight with kinds ${QUERY_KINDS.join(', ')}`);
    return [kind, Number(weight)];
  }),
);
const count = Number(values.count);
const dimension = Number(values.dimension);
const connections = Number(values.connections);
const duration = Number(values.duration);
const log = (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);

const TOPOLOGY_SCRIPT = resolve(import.meta.dirname, '../../scripts/topology.mjs');
const kind = values.topology === 'auto' ? (existsSync(TOPOLOGY_SCRIPT) ? 'script' : 'serve') : values.topology;
if (!['script', 'serve'].includes(kind)) throw new RangeError(`--topology ${values.topology}: expected auto, script or serve`);

/** The API and its workers on a Postgres server, however started: { url, databaseUrl, dataDir, pids(), describe, stop() }. */
async function startTopology() {
  const workers = Number(values.workers);
  if (kind === 'script') {
    const { Topology } = await import(pathToFileURL(TOPOLOGY_SCRIPT).href);
    const dir = mkdtempSync(join(tmpdir(), 'strata-bench-load-topology-'));
    const topology = await Topology.start({ dir, workers, web: false, threads: cpus().length, log: (line) => log(`topology: ${line}`) });
    return {
      url: topology.state.api.url,
      databaseUrl: topology.state.database.url,
      dataDir: topology.state.data,
      pids: () => topology.pids(),
      describe: `scripts/topology.mjs: its own Postgres instance, API (strata serve --workers 0), ${workers} strata worker process(es)`,
      async stop() {
        await topology.stop();
        rmSync(dir, { recursive: true, force: true });
      },
    };
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'strata-bench-load-'));
  const scratch = await createScratchDatabase(postgresServerUrl(), 'strata_bench_load');
  try {
    const serve = await startServe({ dataDir, databaseUrl: scratch.url, workers, workerThreads: cpus().length });
    return {
      url: topology.url,
      databaseUrl: scratch.url,
      dataDir,
      pids: () => [serve.pid],
      describe: `strata serve --workers ${workers} on a database of the shared Postgres server`,
      async stop() {
        await serve.stop();
        await scratch.drop();
        rmSync(dataDir, { recursive: true, force: true });
      },
    };
  } catch (error) {
    await scratch.drop();
    throw error;
  }
}

let topology;
let exitCode = 1;
try {
  log(`${cpus().length} cores (${cpus()[0]?.model ?? '?'}), load average ${loadavg().map((v) => v.toFixed(2)).join(' ')}`);
  topology = await startTopology();
  log(`${topology.describe}; API ${topology.url}`);
  const fixture = await prepareDataset({ databaseUrl: topology.databaseUrl, dataDir: topology.dataDir, count, dimension });
  log(`dataset: ${count.toLocaleString('en')} images, layers ${fixture.layers.join(', ')} (${dimension}-d, cosine HNSW) stored in ${fixture.setupS.toFixed(0)} s`);
  let lastLog = 0;
  const maps = await computeMaps(topology.url, fixture, {
    iterations: Number(values.iterations),
    onProgress: (layer, state) => {
      if (performance.now() - lastLog < 15_000) return;
      lastLog = performance.now();
      log(`map ${layer}: ${state.status} ${state.phase ?? ''} ${state.done ?? ''}/${state.total ?? ''}`);
    },
  });
  for (const [layer, map] of Object.entries(maps)) log(`map ${layer}: ${map.imageIds.length} points, done ${map.seconds.toFixed(0)} s after its request`);

  const token = fixture.viewerToken;
  log(`warm-up: ${values.warmup} s`);
  const warm = await runLoad({ url: topology.url, token, fixture, maps, connections, durationS: Number(values.warmup), mix, seed: 3 });
  let peakRss = 0;
  const loads = [];
  const result = await runLoad({
    url: topology.url,
    token,
    fixture,
    maps,
    connections,
    durationS: duration,
    mix,
    seed: 11,
    sample: () => {
      peakRss = Math.max(peakRss, topology.pids().reduce((sum, pid) => sum + treeRss(pid), 0));
      loads.push(loadavg()[0]);
    },
  });
  const errors = warm.errors + warm.wrong + result.errors + result.wrong;
  const row = {
    count,
    dimension,
    layers: fixture.layers,
    connections,
    durationS: duration,
    mix,
    elapsedS: result.elapsedS,
    requests: result.requests,
    requestsPerSecond: result.perSecond,
    kinds: result.kinds,
    errors: result.errors,
    wrong: result.wrong,
    warmup: { requests: warm.requests, errors: warm.errors, wrong: warm.wrong },
    failures: [...warm.failures, ...result.failures],
    rssPeakMiB: peakRss / 2 ** 20,
    clientCpuS: result.clientCpuS,
    loadAverage: { during: loads.length ? Math.max(...loads) : null, after: loadavg() },
    maps: Object.fromEntries(Object.entries(maps).map(([layer, map]) => [layer, { points: map.imageIds.length, seconds: map.seconds }])),
    cores: cpus().length,
    topology: topology.describe,
  };
  console.log(`\n${connections} clients, ${duration} s, mix ${values.mix}; ${count.toLocaleString('en')} images x ${fixture.layers.length} layers x ${dimension}-d; ${topology.describe}\n`);
  console.log('| query | requests | requests/s | p50 | p95 | p99 | max |\n| --- | --- | --- | --- | --- | --- | --- |');
  const ms = (value) => `${value.toFixed(value < 10 ? 1 : 0)} ms`;
  for (const [kind, k] of Object.entries(result.kinds)) {
    console.log(`| ${kind} | ${k.requests.toLocaleString('en')} | ${k.perSecond.toFixed(1)} | ${ms(k.p50Ms)} | ${ms(k.p95Ms)} | ${ms(k.p99Ms)} | ${ms(k.maxMs)} |`);
  }
  console.log(`| all | ${result.ok.toLocaleString('en')} | ${result.perSecond.toFixed(1)} | | | | |`);
  console.log(`\nerrors ${result.errors}, wrong answers ${result.wrong} (warm-up: ${warm.errors} / ${warm.wrong}); API + workers peak RSS ${row.rssPeakMiB.toFixed(0)} MiB; the clients used ${result.clientCpuS.toFixed(1)} CPU s (${((100 * result.clientCpuS) / result.elapsedS).toFixed(0)}% of a core); load average peak ${row.loadAverage.during?.toFixed(2)}`);
  for (const failure of row.failures) console.log(`  ${failure}`);
  if (values.json) writeFileSync(values.json, `${JSON.stringify(row, null, 2)}\n`);
  exitCode = errors === 0 ? 0 : 1;
} finally {
  await topology?.stop();
}
process.exit(exitCode);
