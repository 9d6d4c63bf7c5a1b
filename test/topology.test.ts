/**
 * The lab deployment without Docker, end to end, and the faults it must survive: the topology
 * of scripts/topology.mjs — Postgres 17 + pgvector (its own scripts/postgres-server.sh
 * instance), the API with no workers of its own, two `strata worker` processes and the web app
 * (`next start`) — driven over HTTP as a lab would: a token, datasets from an HDF5 brick,
 * extractions taken by both workers, neighbours, a t-SNE map, the web app's proxy. Then:
 *
 *   (a) a worker killed with SIGKILL mid-extraction: the other worker finishes the run, with
 *       exactly one vector per image and layer (checked with SQL on the store's tables);
 *   (b) Postgres stopped mid-extraction: the API answers DATABASE_UNAVAILABLE at once (no hang,
 *       no crash), recovers by itself when Postgres is back, and the run completes;
 *   (c) the API killed and started again while a map is being computed: the map completes and
 *       is served after the restart.
 *
 * It needs the Postgres root (scripts/postgres-server.sh builds it; root or sudo) and the built
 * web app; without them beforeAll throws and the suite fails (scripts/test-all.mjs counts it).
 */
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { demoImages, writeImageBrick } from '@strata/core/sources';
import { alive, Topology, type HttpServiceState } from '../scripts/topology.mjs';
import { strata, tempDir } from './helpers.js';

const COUNT = 12;
const LAYERS = ['pool4', 'pool5'];
const COMPONENTS = 6;
const EXTRACT = 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool4", "pool5"], pcaComponents: 6, sampleSize: 8, batchSize: 2) { id status } }';
const RUN = 'query($id: ID!) { run(id: $id) { id kind status phase done total attempts worker error result } }';

type Run = { id: string; kind: string; status: string; phase: string | null; done: number; total: number; attempts: number; worker: string | null; error: string | null; result: Record<string, unknown> | null };
interface GraphQLResult<T> {
  readonly status: number;
  readonly data?: T | null;
  readonly errors?: { message: string; extensions?: { code?: string } }[];
}

let topology: Topology;
let dir: string;
let brick: string;
let editor: string; // owns the datasets
let fresh: string; // a viewer token never used before the outage, so not in the API's token cache
const datasets: Record<string, string> = {};
const timings: string[] = [];

const apiUrl = () => topology.state.api.url;
const webUrl = () => (topology.state.web as HttpServiceState).url;
const workerPids = () => topology.state.workers.map((worker) => worker.pid);
const pidOf = (worker: string | null) => Number(String(worker).split(':')[1]);

async function gql<T = Record<string, any>>(token: string, query: string, variables: Record<string, unknown> = {}, base = `${apiUrl()}/graphql`): Promise<GraphQLResult<T>> {
  const response = await fetch(base, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
    // An answer, even an error, must come quickly: a hang is a failure.
    signal: AbortSignal.timeout(15_000),
  });
  return { status: response.status, ...((await response.json()) as Omit<GraphQLResult<T>, 'status'>) };
}

async function ok<T = Record<string, any>>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const result = await gql<T>(token, query, variables);
  expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
  return result.data as T;
}

async function waitForRun(id: string, until: (run: Run) => boolean, timeoutMs = 240_000, pollMs = 250): Promise<Run> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { run } = await ok<{ run: Run }>(editor, RUN, { id });
    if (until(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} did not get there in ${timeoutMs / 1000} s: ${JSON.stringify(run)}`);
    await new Promise((resolve) => setTimeout(resolve, pollMs));
  }
}

const finished = (run: Run) => ['DONE', 'FAILED', 'CANCELLED'].includes(run.status);

/** One query on the topology's database, on a connection of its own (the server may have restarted). */
async function sql<Row = Record<string, unknown>>(text: string, params: unknown[] = []): Promise<Row[]> {
  const client = new pg.Client({ connectionString: topology.state.database.url });
  await client.connect();
  try {
    return (await client.query(text, params)).rows as Row[];
  } finally {
    await client.end();
  }
}

/** Exactly one vector per image and layer, of the layer's dimension: no duplicates, no gaps. */
async function expectCompleteVectors(dataset: string): Promise<void> {
  const layers = await sql<{ layer: string; status: string; components: number; vectors: number; images: number; bad: number }>(
    `SELECT l.layer, l.status::text AS status, l.components,
            count(v.image_id)::int AS vectors, count(DISTINCT v.image_id)::int AS images,
            count(v.image_id) FILTER (WHERE v.vector IS NULL OR vector_dims(v.vector) <> l.components)::int AS bad
       FROM dataset d JOIN dataset_layer l ON l.dataset_id = d.id LEFT JOIN feature_vector v ON v.dataset_layer_id = l.id
      WHERE d.name = $1 GROUP BY l.id ORDER BY l.layer`,
    [dataset],
  );
  expect(layers).toEqual(LAYERS.map((layer) => ({ layer, status: 'ready', components: COMPONENTS, vectors: COUNT, images: COUNT, bad: 0 })));
  const [images] = await sql<{ images: number; indexes: number; missing: number; strays: number }>(
    `SELECT (SELECT count(*)::int FROM image i WHERE i.dataset_id = d.id) AS images,
            (SELECT count(DISTINCT i.index)::int FROM image i WHERE i.dataset_id = d.id AND i.index BETWEEN 0 AND $2 - 1) AS indexes,
            (SELECT count(*)::int FROM image i JOIN dataset_layer l ON l.dataset_id = d.id
              WHERE i.dataset_id = d.id AND NOT EXISTS (SELECT 1 FROM feature_vector v WHERE v.dataset_layer_id = l.id AND v.image_id = i.id)) AS missing,
            (SELECT count(*)::int FROM feature_vector v JOIN dataset_layer l ON l.id = v.dataset_layer_id JOIN image i ON i.id = v.image_id
              WHERE l.dataset_id = d.id AND i.dataset_id <> d.id) AS strays
       FROM dataset d WHERE d.name = $1`,
    [dataset, COUNT],
  );
  // Every source index 0..N-1 stored once, each with a vector in every layer.
  expect(images).toEqual({ images: COUNT, indexes: COUNT, missing: 0, strays: 0 });
}

async function createDataset(name: string): Promise<string> {
  const { createDataset } = await ok(editor, 'mutation($p: String!, $n: String!) { createDataset(input: { name: $n, source: { path: $p }, visibility: LAB }) { id imageCount } }', { p: brick, n: name });
  expect(createDataset.imageCount).toBe(COUNT);
  datasets[name] = createDataset.id;
  return createDataset.id;
}

beforeAll(async () => {
  const started = performance.now();
  dir = tempDir('topology');
  const imports = join(dir, 'imports');
  mkdirSync(imports);
  const model = join(dir, 'synthetic.onnx');
  const synth = strata(['model', 'synth', '--seed', '3', '--out', model]);
  expect(synth.status, synth.stderr).toBe(0);
  brick = join(imports, 'stimuli.h5');
  await writeImageBrick(brick, 425, 425, demoImages(COUNT, 4));
  topology = await Topology.start({
    dir: join(dir, 'lab'),
    // A fixed name: a server left by a run that crashed is replaced, not leaked (so one run of
    // this suite at a time per machine).
    instance: 'topology-test',
    workers: 2,
    threads: 1,
    models: `synth=${model}`,
    importRoots: [imports],
    // Fast failure detection, so that the faults resolve in seconds.
    env: { STRATA_WORKER_HEARTBEAT_SECONDS: '1', STRATA_WORKER_STALE_SECONDS: '4', STRATA_WORKER_POLL_SECONDS: '0.5', STRATA_JOB_RETRY_LIMIT: '5' },
    log: () => undefined,
  });
  editor = (JSON.parse(topology.cli(['token', 'create', '--name', 'alice', '--role', 'editor', '--json'])) as { token: string }).token;
  fresh = (JSON.parse(topology.cli(['token', 'create', '--name', 'bob', '--role', 'viewer', '--json'])) as { token: string }).token;
  timings.push(`start ${((performance.now() - started) / 1000).toFixed(1)} s`);
});

let failures = 0;
afterEach((context) => {
  if (context.task.result?.state === 'fail') failures += 1;
});

afterAll(async () => {
  if (timings.length > 0) console.log(`topology timings: ${timings.join(', ')}`);
  await topology?.stop();
  // The logs of a failed run stay for a look (lab/logs/*.log); a passing run leaves nothing (the model alone is 59 MB).
  if (failures === 0 && topology) rmSync(dir, { recursive: true, force: true });
  else if (dir) console.log(`topology test files and logs kept in ${dir}`);
});

describe('the topology without Docker', () => {
  it('runs Postgres, the API without workers, two workers and the web app as separate processes', async () => {
    const pids = topology.pids();
    expect(pids).toHaveLength(4);
    expect(new Set(pids).size).toBe(4);
    expect(pids.every(alive)).toBe(true);
    const health = (await (await fetch(`${apiUrl()}/healthz`)).json()) as { ok: boolean; backend: string };
    expect(health).toMatchObject({ ok: true, backend: 'postgres' });
    expect(topology.state.database.instance).toBe('topology-test');
    // The API runs no workers of its own.
    const status = await topology.status();
    expect(status.map((row) => [row.name, row.state])).toEqual([
      ['postgres', 'running'],
      ['api', 'healthy'],
      ['worker 1', 'running'],
      ['worker 2', 'running'],
      ['web', 'healthy'],
    ]);
    expect((await ok(editor, '{ me { user role } }')).me).toEqual({ user: 'alice', role: 'EDITOR' });
  });

  it('extracts two datasets at once, one on each worker; answers neighbours and a t-SNE map; the web app answers through its proxy', async () => {
    const started = performance.now();
    const first = await createDataset('first');
    const second = await createDataset('second');
    const a = (await ok(editor, EXTRACT, { id: first })).startExtraction;
    const b = (await ok(editor, EXTRACT, { id: second })).startExtraction;
    const [doneA, doneB] = await Promise.all([waitForRun(a.id, finished), waitForRun(b.id, finished)]);
    expect(doneA.status, JSON.stringify(doneA)).toBe('DONE');
    expect(doneB.status, JSON.stringify(doneB)).toBe('DONE');
    // Both workers took a job.
    expect(new Set([pidOf(doneA.worker), pidOf(doneB.worker)])).toEqual(new Set(workerPids()));
    await expectCompleteVectors('first');
    await expectCompleteVectors('second');
    timings.push(`two extractions ${((performance.now() - started) / 1000).toFixed(1)} s`);

    const { images } = await ok(editor, 'query($id: ID!) { images(datasetId: $id, limit: 1, offset: 3) { items { id } } }', { id: first });
    const imageId = images.items[0].id as string;
    const { nearestNeighbors } = await ok(editor, 'query($img: ID!) { nearestNeighbors(imageId: $img, layer: "pool5", k: 5) { image { id } distance } }', { img: imageId });
    expect(nearestNeighbors).toHaveLength(5);
    expect(nearestNeighbors.map((n: { image: { id: string } }) => n.image.id)).not.toContain(imageId);
    const distances = nearestNeighbors.map((n: { distance: number }) => n.distance);
    expect(distances).toEqual([...distances].sort((x, y) => x - y));
    // The same answer as an exact search in SQL over the stored vectors.
    const exact = await sql<{ image_id: number }>(
      `SELECT v.image_id FROM feature_vector v JOIN dataset_layer l ON l.id = v.dataset_layer_id
        WHERE l.dataset_id = $1 AND l.layer = 'pool5' AND v.image_id <> $2
        ORDER BY (v.vector::vector(${COMPONENTS})) <=> (SELECT w.vector::vector(${COMPONENTS}) FROM feature_vector w WHERE w.dataset_layer_id = l.id AND w.image_id = $2) LIMIT 5`,
      [Number(first), Number(imageId)],
    );
    expect(nearestNeighbors.map((n: { image: { id: string } }) => Number(n.image.id))).toEqual(exact.map((row) => row.image_id));

    const { computeMap } = await ok(editor, 'mutation($id: ID!) { computeMap(datasetId: $id, layer: "pool5", perplexity: 3, seed: 1) { id } }', { id: first });
    const map = await waitForRun(computeMap.id, finished);
    expect(map.status, JSON.stringify(map)).toBe('DONE');
    const { tsneMap } = await ok(editor, 'query($id: ID!) { tsneMap(datasetId: $id, layer: "pool5", perplexity: 3, seed: 1) { status pointCount mosaicUrl columns { x y } } }', { id: first });
    expect(tsneMap).toMatchObject({ status: 'READY', pointCount: COUNT });
    expect(tsneMap.columns.x.every(Number.isFinite)).toBe(true);

    // The web app: log in (the token becomes an httpOnly cookie), then GraphQL and files through /api/strata.
    const login = await fetch(`${webUrl()}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-strata-client': 'web' }, body: JSON.stringify({ token: editor }) });
    expect(login.status).toBe(200);
    const cookie = (login.headers.get('set-cookie') ?? '').split(';')[0] as string;
    expect(cookie).toMatch(/^strata_token=/);
    const proxied = await fetch(`${webUrl()}/api/strata/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-strata-client': 'web', cookie },
      body: JSON.stringify({ query: '{ datasets { name storedImages layers { name status vectorCount } } }' }),
    });
    expect(proxied.status).toBe(200);
    const body = (await proxied.json()) as { data: { datasets: { name: string; storedImages: number }[] } };
    expect(body.data.datasets.map((dataset) => [dataset.name, dataset.storedImages]).sort()).toEqual([
      ['first', COUNT],
      ['second', COUNT],
    ]);
    const mosaic = new URL(tsneMap.mosaicUrl as string);
    const png = await fetch(`${webUrl()}/api/strata${mosaic.pathname}${mosaic.search}`);
    expect(png.status).toBe(200);
    expect(png.headers.get('content-type')).toBe('image/png');
    const page = await fetch(`${webUrl()}/login`);
    expect(page.status).toBe(200);
    expect(await page.text()).toMatch(/<html/i);
  });

  it('(a) a worker killed with SIGKILL mid-extraction: the other worker finishes the run; one vector per image and layer', async () => {
    const started = performance.now();
    const id = await createDataset('killed');
    const { startExtraction } = await ok(editor, EXTRACT, { id });
    const midway = await waitForRun(startExtraction.id, (run) => finished(run) || (/^extract/.test(run.phase ?? '') && run.done >= 4), 240_000, 100);
    expect(midway.status, 'the extraction finished before its worker could be killed').toBe('RUNNING');
    const victim = pidOf(midway.worker);
    expect(workerPids()).toContain(victim);
    const survivor = workerPids().find((pid) => pid !== victim);
    process.kill(victim, 'SIGKILL');
    const done = await waitForRun(startExtraction.id, finished);
    expect(done.status, JSON.stringify(done)).toBe('DONE');
    expect(pidOf(done.worker)).toBe(survivor);
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(done.result).toMatchObject({ images: COUNT, failures: 0, resumed: true });
    await expectCompleteVectors('killed');
    expect(alive(victim)).toBe(false);
    timings.push(`worker kill ${((performance.now() - started) / 1000).toFixed(1)} s`);
    // Back to two workers for what follows.
    await topology.startWorker(topology.state.workers.findIndex((worker) => worker.pid === victim));
  });

  it('(b) Postgres stopped mid-extraction: the API answers DATABASE_UNAVAILABLE, recovers by itself, and the run completes', async () => {
    const started = performance.now();
    const pidsBefore = topology.pids();
    const id = await createDataset('outage');
    const { startExtraction } = await ok(editor, EXTRACT, { id });
    const midway = await waitForRun(startExtraction.id, (run) => finished(run) || (/^extract/.test(run.phase ?? '') && run.done >= 2), 240_000, 100);
    expect(midway.status, 'the extraction finished before the database could be stopped').toBe('RUNNING');

    topology.haltDatabase();
    const down = performance.now();
    try {
      // While it is down: a prompt answer with a stable code, from the API and through the web
      // app, for a cached token (the error comes from the resolver) and an uncached one (from
      // the token lookup, HTTP 503).
      const cached = await gql(editor, '{ datasets { name } }');
      expect(cached.errors?.[0]?.extensions?.code, JSON.stringify(cached)).toBe('DATABASE_UNAVAILABLE');
      expect(cached.errors?.[0]?.message).toMatch(/database cannot be reached/);
      const uncached = await gql(fresh, '{ me { user } }');
      expect(uncached.status).toBe(503);
      expect(uncached.errors?.[0]?.extensions?.code, JSON.stringify(uncached)).toBe('DATABASE_UNAVAILABLE');
      const polled = await gql(editor, RUN, { id: startExtraction.id });
      expect(polled.errors?.[0]?.extensions?.code, JSON.stringify(polled)).toBe('DATABASE_UNAVAILABLE');
      const login = await fetch(`${webUrl()}/api/session`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-strata-client': 'web' }, body: JSON.stringify({ token: fresh }), signal: AbortSignal.timeout(15_000) });
      expect(login.status).toBe(503);
      expect(((await login.json()) as { error: { code: string } }).error.code).toBe('DATABASE_UNAVAILABLE');
      expect((performance.now() - down) / 1000, 'answers while the database is down took too long').toBeLessThan(15);
      // Down for longer than a worker's heartbeat may be silent (4 s here).
      await new Promise((resolve) => setTimeout(resolve, Math.max(0, 6000 - (performance.now() - down))));
      expect(topology.pids().filter((pid) => !alive(pid)), 'processes that died while the database was down').toEqual([]);
    } finally {
      topology.restartDatabase();
    }
    const up = performance.now();
    // Recovers by itself: no process restarted.
    for (;;) {
      const answer = await gql(editor, '{ datasets { name } }');
      if (!answer.errors) break;
      expect(answer.errors[0]?.extensions?.code).toBe('DATABASE_UNAVAILABLE');
      if (performance.now() - up > 30_000) throw new Error(`the API did not recover in 30 s: ${JSON.stringify(answer.errors)}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
    const recovered = (performance.now() - up) / 1000;
    expect((await ok(fresh, '{ me { user } }')).me).toEqual({ user: 'bob' });
    const done = await waitForRun(startExtraction.id, finished);
    expect(done.status, JSON.stringify(done)).toBe('DONE');
    expect(done.result).toMatchObject({ images: COUNT, failures: 0 });
    // At most the attempt the outage broke, and one retry: no worker took the job from another
    // because of heartbeats the outage kept from being written.
    expect(done.attempts).toBeLessThanOrEqual(2);
    await expectCompleteVectors('outage');
    expect(topology.pids()).toEqual(pidsBefore);
    expect(pidsBefore.every(alive)).toBe(true);
    timings.push(`database outage ${((performance.now() - started) / 1000).toFixed(1)} s (API back ${recovered.toFixed(1)} s after Postgres, ${done.attempts} attempts)`);
  });

  it('(c) the API killed and started again while a map is computed: the map completes and is served after the restart', async () => {
    const started = performance.now();
    const id = datasets.first as string;
    const { computeMap } = await ok(editor, 'mutation($id: ID!) { computeMap(datasetId: $id, layer: "pool4", perplexity: 3, seed: 2) { id status } }', { id });
    expect(computeMap.status).toBe('QUEUED');
    // Kill the API once a worker is computing the map (it takes about a second here).
    const jobStatus = async () => (await sql<{ status: string; phase: string | null }>('SELECT status, phase FROM strata_api.job WHERE id = $1', [Number(computeMap.id)]))[0];
    let atKill = await jobStatus();
    for (const deadline = Date.now() + 30_000; atKill?.status === 'queued' && Date.now() < deadline; ) atKill = await jobStatus();
    const oldApi = topology.state.api.pid;
    process.kill(oldApi, 'SIGKILL');
    expect(atKill?.status, `the map was not being computed when the API was killed: ${JSON.stringify(atKill)}`).toBe('running');
    // The web app says the API is unreachable, not a hang.
    const unreachable = await fetch(`${webUrl()}/api/strata/healthz`, { signal: AbortSignal.timeout(15_000) });
    expect(unreachable.status).toBe(502);
    await topology.restartApi();
    expect(topology.state.api.pid).not.toBe(oldApi);
    const done = await waitForRun(computeMap.id, finished);
    expect(done.status, JSON.stringify(done)).toBe('DONE');
    const { tsneMap } = await ok(editor, 'query($id: ID!) { tsneMap(datasetId: $id, layer: "pool4", perplexity: 3, seed: 2) { status pointCount mosaicUrl } }', { id });
    expect(tsneMap).toMatchObject({ status: 'READY', pointCount: COUNT });
    const mosaic = await fetch(tsneMap.mosaicUrl as string);
    expect(mosaic.status).toBe(200);
    expect(mosaic.headers.get('content-type')).toBe('image/png');
    // The job ran once: the restart did not queue it again.
    const [job] = await sql<{ attempts: number; status: string }>('SELECT attempts, status FROM strata_api.job WHERE id = $1', [Number(computeMap.id)]);
    expect(job).toEqual({ attempts: 1, status: 'done' });
    timings.push(`API restart during a map ${((performance.now() - started) / 1000).toFixed(1)} s (job ${atKill?.status}, phase ${atKill?.phase}, when the API was killed)`);
  });

  it('stops every process and the database', async () => {
    const pids = topology.pids();
    await topology.stop();
    expect(pids.filter(alive)).toEqual([]);
    expect((await topology.status())[0]?.state).toBe('not running');
  });
});
