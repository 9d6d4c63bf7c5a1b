// The pieces of the load benchmark (bench/load/run.mjs) and of its smoke test
// (test/load-smoke.test.ts): `strata serve` with its workers in a process tree of its own (on a
// Postgres server database, or its embedded one), a dataset of two synthetic layers with t-SNE maps computed
// by those workers, and a closed-loop load of GraphQL queries over HTTP on 127.0.0.1 in which
// every answer is checked against what was stored.
import { execFileSync, spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { Agent, request } from 'node:http';
import { join, resolve } from 'node:path';
import { addSyntheticLayer, clusteredVectors, createApiToken, createSyntheticDataset, ensureApiSchema, openStore } from '@strata/core/store';

const ROOT = resolve(import.meta.dirname, '../..');
const CLI = join(ROOT, 'apps/cli/bin/strata.js');
const PAGE_BYTES = 4096;

/** The query kinds of the mix; their documents ask for what the web app's map and image pages show. */
export const QUERY_KINDS = ['nearestNeighbors', 'images', 'tsneMap'];
export const PAGE = 100;
export const K = 10;

const DOCUMENTS = {
  nearestNeighbors: `query Nearest($imageId: ID!, $layer: String!) { nearestNeighbors(imageId: $imageId, layer: $layer, k: ${K}) { distance image { id index sourceId width height } } }`,
  images: `query Images($datasetId: ID!, $offset: Int) { images(datasetId: $datasetId, offset: $offset, limit: ${PAGE}) { total offset limit items { id index sourceId width height } } }`,
  tsneMap: `query Map($datasetId: ID!, $layer: String!, $offset: Int) { tsneMap(datasetId: $datasetId, layer: $layer) { id status pointCount klDivergence points(offset: $offset, limit: ${PAGE}) { imageId x y } } }`,
};

/** DATABASE_URL of a Postgres server: STRATA_BENCH_DATABASE_URL, else scripts/postgres-server.sh (started if needed, shared). */
export function postgresServerUrl() {
  if (process.env.STRATA_BENCH_DATABASE_URL) return process.env.STRATA_BENCH_DATABASE_URL;
  return execFileSync('bash', [join(ROOT, 'scripts/postgres-server.sh'), 'start'], { encoding: 'utf8' }).trim();
}

/** Resident memory of a process and its descendants, in bytes (Linux /proc; 0 when gone). */
export function treeRss(pid) {
  const children = new Map();
  const rss = new Map();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      // "pid (comm) state ppid ...", then rss (pages) is field 24.
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      const ppid = Number(fields[1]);
      if (!children.has(ppid)) children.set(ppid, []);
      children.get(ppid).push(Number(entry));
      rss.set(Number(entry), Number(fields[21]) * PAGE_BYTES);
    } catch {
      // exited meanwhile
    }
  }
  let total = 0;
  const stack = [pid];
  while (stack.length) {
    const next = stack.pop();
    total += rss.get(next) ?? 0;
    stack.push(...(children.get(next) ?? []));
  }
  return total;
}

/**
 * `strata serve` on a free port of 127.0.0.1 with `workers` worker processes, against
 * `databaseUrl` (a Postgres server) or, without one, its own embedded database.
 */
export async function startServe({ dataDir, databaseUrl, workers = 1, workerThreads, env: extra = {}, timeoutMs = 120_000 }) {
  const { DATABASE_URL: _ignored, ...base } = process.env;
  const env = {
    ...base,
    ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}),
    STRATA_WORKER_POLL_SECONDS: '0.5',
    ...(workerThreads ? { STRATA_WORKER_THREADS: String(workerThreads) } : {}),
    ...extra,
  };
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--workers', String(workers), '--data', dataDir], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = [];
  child.stdout.setEncoding('utf8').on('data', (text) => output.push(text));
  child.stderr.setEncoding('utf8').on('data', (text) => output.push(text));
  const url = await new Promise((done, reject) => {
    const timer = setInterval(() => {
      const match = /listening on (http:\/\/\S+)\/graphql/.exec(output.join(''));
      if (match) {
        clearInterval(timer);
        clearTimeout(deadline);
        done(match[1]);
      }
    }, 50);
    const deadline = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`strata serve did not start in ${timeoutMs / 1000} s:\n${output.join('').slice(-4000)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearInterval(timer);
      clearTimeout(deadline);
      reject(new Error(`strata serve exited (${code}):\n${output.join('').slice(-4000)}`));
    });
  });
  return {
    url,
    pid: child.pid,
    output,
    stop: () => stopChild(child),
  };
}

/** SIGTERM, then SIGKILL after 30 s; resolves when the child has exited. */
export async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((done) => child.once('exit', done));
  child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  await exited;
  clearTimeout(timer);
}

/**
 * A dataset of `count` images with two stored layers of `dimension`-d clustered vectors
 * (different clusterings, like pool1 and pool5) and their cosine HNSW indexes; plus an editor's
 * and a viewer's token. `databaseUrl` is the database strata serve uses.
 */
export async function prepareDataset({ databaseUrl, dataDir, name = 'load', count, dimension, layers = ['pool5', 'pool1'], seed = 1 }) {
  const store = await openStore({ databaseUrl, dataDir });
  try {
    await ensureApiSchema(store);
    const started = performance.now();
    const vectors = {};
    const [first, ...rest] = layers;
    vectors[first] = clusteredVectors(count, dimension, { seed, clusters: 100 });
    const made = await createSyntheticDataset(store, { name, layer: first, count, dimension, vectors: vectors[first], indexes: ['cosine'] });
    for (const [i, layer] of rest.entries()) {
      vectors[layer] = clusteredVectors(count, dimension, { seed: seed + 1 + i, clusters: 24, spread: 0.6 });
      await addSyntheticLayer(store, { dataset: name, layer, imageIds: made.imageIds, dimension, vectors: vectors[layer], indexes: ['cosine'] });
    }
    const datasetId = (await store.getDataset(name)).id;
    const editor = await createApiToken(store, { user: 'load-editor', role: 'editor' });
    const viewer = await createApiToken(store, { user: 'load-viewer', role: 'viewer' });
    return { name, datasetId, count, dimension, layers, imageIds: made.imageIds, vectors, editorToken: editor.token, viewerToken: viewer.token, setupS: (performance.now() - started) / 1000 };
  } finally {
    await store.close();
  }
}

/** POSTs one GraphQL request; resolves with the HTTP status and the parsed body. */
function post(agent, endpoint, token, body, timeoutMs) {
  return new Promise((done, reject) => {
    const payload = Buffer.from(JSON.stringify(body));
    const req = request(
      endpoint,
      { method: 'POST', agent, headers: { 'content-type': 'application/json', 'content-length': payload.length, authorization: `Bearer ${token}` }, timeout: timeoutMs },
      (res) => {
        const chunks = [];
        res.on('data', (chunk) => chunks.push(chunk));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          try {
            done({ status: res.statusCode, body: JSON.parse(text) });
          } catch {
            done({ status: res.statusCode, body: null, text });
          }
        });
        res.on('error', reject);
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer in ${timeoutMs / 1000} s`)));
    req.on('error', reject);
    req.end(payload);
  });
}

/** One GraphQL call that must succeed (setup, not measured). */
export async function gql(url, token, query, variables = {}) {
  const agent = new Agent({ keepAlive: false });
  const { status, body, text } = await post(agent, `${url}/graphql`, token, { query, variables }, 600_000);
  if (status !== 200 || !body || body.errors) throw new Error(`GraphQL ${status}: ${body ? JSON.stringify(body.errors ?? body) : text}`);
  return body.data;
}

/**
 * t-SNE maps of the dataset's layers, computed by strata serve's workers (computeMap, no mosaic
 * or atlas: the images are synthetic rows), waited for; then each map's columns as the API
 * serves them, the reference for checking pages of points.
 */
export async function computeMaps(url, fixture, { iterations, perplexity = 30, timeoutMs = 1_800_000, onProgress } = {}) {
  const runs = [];
  for (const layer of fixture.layers) {
    const data = await gql(
      url,
      fixture.editorToken,
      'mutation($d: ID!, $l: String!, $i: Int) { computeMap(datasetId: $d, layer: $l, perplexity: ' + perplexity + ', iterations: $i, mosaic: false, atlas: false) { id status } }',
      { d: String(fixture.datasetId), l: layer, i: iterations ?? null },
    );
    runs.push({ layer, id: data.computeMap.id, started: performance.now() });
  }
  const deadline = performance.now() + timeoutMs;
  const maps = {};
  for (const run of runs) {
    for (;;) {
      const { run: state } = await gql(url, fixture.editorToken, 'query($id: ID!) { run(id: $id) { status phase done total error } }', { id: run.id });
      if (state.status === 'DONE') break;
      if (state.status === 'FAILED' || state.status === 'CANCELLED') throw new Error(`map of ${run.layer}: ${state.status} (${state.error})`);
      if (performance.now() > deadline) throw new Error(`map of ${run.layer} not done in ${timeoutMs / 1000} s (${state.phase} ${state.done}/${state.total})`);
      onProgress?.(run.layer, state);
      await new Promise((done) => setTimeout(done, 500));
    }
    const { tsneMap } = await gql(url, fixture.editorToken, 'query($d: ID!, $l: String!) { tsneMap(datasetId: $d, layer: $l) { id status pointCount columns { imageIds x y } } }', {
      d: String(fixture.datasetId),
      l: run.layer,
    });
    if (tsneMap.status !== 'READY' || tsneMap.pointCount !== fixture.count) throw new Error(`map of ${run.layer}: ${tsneMap.status}, ${tsneMap.pointCount} points`);
    maps[run.layer] = { ...tsneMap.columns, seconds: (performance.now() - run.started) / 1000 };
  }
  return maps;
}

/** Cosine distance of two stored rows, as pgvector computes it (1 - cos). */
function cosineDistance(vectors, dimension, a, b) {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let j = 0; j < dimension; j++) {
    const x = vectors[a * dimension + j];
    const y = vectors[b * dimension + j];
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return 1 - dot / Math.sqrt(aa * bb);
}

/** Why an answer is wrong, or null when it is what the store holds. */
function checkAnswer(kind, request, data, fixture, rowOf, maps) {
  switch (kind) {
    case 'nearestNeighbors': {
      const hits = data?.nearestNeighbors;
      if (!Array.isArray(hits) || hits.length !== Math.min(K, fixture.count - 1)) return `expected ${K} neighbours, got ${hits?.length}`;
      let previous = -Infinity;
      for (const hit of hits) {
        const row = rowOf.get(Number(hit.image.id));
        if (row === undefined) return `neighbour ${hit.image.id} is not an image of the dataset`;
        if (row === request.row) return 'the query image is among its own neighbours';
        if (hit.image.index !== row || hit.image.sourceId !== String(row)) return `image ${hit.image.id}: index ${hit.image.index}, source id ${hit.image.sourceId}, expected ${row}`;
        const expected = cosineDistance(fixture.vectors[request.layer], fixture.dimension, request.row, row);
        if (!(Math.abs(hit.distance - expected) <= 1e-4)) return `distance to ${hit.image.id} is ${hit.distance}, expected ${expected}`;
        if (hit.distance < previous - 1e-6) return 'neighbours are not ordered by distance';
        previous = hit.distance;
      }
      return null;
    }
    case 'images': {
      const page = data?.images;
      const expected = Math.max(0, Math.min(PAGE, fixture.count - request.offset));
      if (!page || page.total !== fixture.count || page.offset !== request.offset || page.items?.length !== expected) return `page at ${request.offset}: total ${page?.total}, ${page?.items?.length} items, expected ${fixture.count} and ${expected}`;
      for (let j = 0; j < expected; j++) {
        const item = page.items[j];
        const row = request.offset + j;
        if (Number(item.id) !== fixture.imageIds[row] || item.index !== row || item.sourceId !== String(row)) return `item ${j} of the page at ${request.offset} is ${JSON.stringify(item)}`;
      }
      return null;
    }
    case 'tsneMap': {
      const map = data?.tsneMap;
      const columns = maps[request.layer];
      const expected = Math.max(0, Math.min(PAGE, fixture.count - request.offset));
      if (!map || map.status !== 'READY' || map.pointCount !== fixture.count || map.points?.length !== expected) return `map ${request.layer}: ${map?.status}, ${map?.pointCount} points, a page of ${map?.points?.length}`;
      for (let j = 0; j < expected; j++) {
        const point = map.points[j];
        const i = request.offset + j;
        if (Number(point.imageId) !== columns.imageIds[i] || point.x !== columns.x[i] || point.y !== columns.y[i]) return `point ${i} of ${request.layer} is ${JSON.stringify(point)}`;
      }
      return null;
    }
    default:
      throw new RangeError(`unknown query kind ${kind}; expected one of ${QUERY_KINDS.join(', ')}`);
  }
}

/** A seeded stream of requests: kinds by weight, random images, pages and layers. */
function requestStream(fixture, mix, seed) {
  let state = seed >>> 0 || 1;
  const random = () => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 4294967296;
  };
  const total = Object.values(mix).reduce((a, b) => a + b, 0);
  const pages = Math.ceil(fixture.count / PAGE);
  return () => {
    let pick = random() * total;
    let kind = QUERY_KINDS[0];
    for (const candidate of QUERY_KINDS) {
      pick -= mix[candidate] ?? 0;
      if (pick < 0) {
        kind = candidate;
        break;
      }
    }
    const layer = fixture.layers[Math.floor(random() * fixture.layers.length)];
    switch (kind) {
      case 'nearestNeighbors': {
        const row = Math.floor(random() * fixture.count);
        return { kind, layer, row, variables: { imageId: String(fixture.imageIds[row]), layer } };
      }
      case 'images': {
        const offset = Math.floor(random() * pages) * PAGE;
        return { kind, offset, variables: { datasetId: String(fixture.datasetId), offset } };
      }
      default: {
        const offset = Math.floor(random() * pages) * PAGE;
        return { kind, layer, offset, variables: { datasetId: String(fixture.datasetId), layer, offset } };
      }
    }
  };
}

const percentile = (sorted, p) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] : NaN);

/**
 * `connections` clients, each sending its next request when the previous answer has been
 * checked (closed loop, keep-alive), for `durationS` seconds and at most `maxRequests` in all.
 * Errors: transport failures and timeouts, HTTP statuses other than 200, GraphQL errors; wrong:
 * answers that differ from the store. Latency is from sending to the parsed body.
 */
export async function runLoad({ url, token, fixture, maps, connections = 32, durationS = 60, maxRequests = 10_000_000, mix = { nearestNeighbors: 2, images: 1, tsneMap: 1 }, seed = 7, timeoutMs = 30_000, sample }) {
  const agent = new Agent({ keepAlive: true, maxSockets: connections });
  const endpoint = `${url}/graphql`;
  const rowOf = new Map(Array.from(fixture.imageIds, (id, row) => [id, row]));
  const next = requestStream(fixture, mix, seed);
  const latencies = Object.fromEntries(QUERY_KINDS.map((kind) => [kind, []]));
  const failures = [];
  const counts = { errors: 0, wrong: 0, sent: 0 };
  const started = performance.now();
  const cpuBefore = process.cpuUsage();
  const stopAt = started + durationS * 1000;
  const sampler = sample ? setInterval(sample, 1000) : undefined;
  const client = async () => {
    while (performance.now() < stopAt && counts.sent < maxRequests) {
      counts.sent += 1;
      const req = next();
      const t = performance.now();
      let problem = null;
      let wrong = false;
      try {
        const { status, body, text } = await post(agent, endpoint, token, { query: DOCUMENTS[req.kind], variables: req.variables }, timeoutMs);
        if (status !== 200) problem = `HTTP ${status}: ${(text ?? JSON.stringify(body)).slice(0, 300)}`;
        else if (!body) problem = `not JSON: ${String(text).slice(0, 300)}`;
        else if (body.errors) problem = `GraphQL: ${JSON.stringify(body.errors).slice(0, 300)}`;
        else {
          problem = checkAnswer(req.kind, req, body.data, fixture, rowOf, maps);
          wrong = problem !== null;
        }
      } catch (error) {
        problem = error instanceof Error ? error.message : String(error);
      }
      const ms = performance.now() - t;
      if (problem === null) latencies[req.kind].push(ms);
      else {
        if (wrong) counts.wrong += 1;
        else counts.errors += 1;
        if (failures.length < 20) failures.push(`${req.kind} ${JSON.stringify(req.variables)}: ${problem}`);
      }
    }
  };
  await Promise.all(Array.from({ length: connections }, client));
  const elapsedS = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuBefore);
  if (sampler) clearInterval(sampler);
  agent.destroy();
  const kinds = {};
  let ok = 0;
  for (const kind of QUERY_KINDS) {
    const sorted = latencies[kind].sort((a, b) => a - b);
    ok += sorted.length;
    kinds[kind] = { requests: sorted.length, perSecond: sorted.length / elapsedS, p50Ms: percentile(sorted, 0.5), p95Ms: percentile(sorted, 0.95), p99Ms: percentile(sorted, 0.99), maxMs: sorted.at(-1) ?? NaN };
  }
  // The clients' own CPU (sending, parsing, checking), which shares the machine with the server.
  const clientCpuS = (cpu.user + cpu.system) / 1e6;
  return { connections, elapsedS, requests: counts.sent, ok, perSecond: ok / elapsedS, errors: counts.errors, wrong: counts.wrong, failures, kinds, mix, clientCpuS };
}
