/**
 * The GraphQL API end to end, over real HTTP, as a lab runs it: `strata serve` (API, one worker,
 * and the embedded database in its own process — or a Postgres server with
 * STRATA_TEST_DATABASE_URL), tokens from `strata token create`, a dataset from an HDF5 brick
 * under an import root, an extraction run through the worker (which is killed mid-way and
 * replaced: the retry continues from the last committed batch), then neighbours, a similar-image
 * search, a t-SNE map and a layer comparison, each checked against the core library reading the
 * same database; and the refusals: tokens, roles, private datasets, import roots, k and limit
 * bounds, query depth and cost.
 */
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runningEmbeddedDatabase } from '@strata/api';
import { compareDatasetLayers } from '@strata/core/compare';
import { getMap } from '@strata/core/maps';
import { demoImages, writeImageBrick } from '@strata/core/sources';
import { createScratchDatabase, openStore, type ScratchDatabase, type Store } from '@strata/core/store';
import { type GraphQLResult, ServeLab, startServe, strata, tempDir } from './helpers.js';

const COUNT = 16;
const serverUrl = process.env.STRATA_TEST_DATABASE_URL;
const backends: ('pglite' | 'postgres')[] = ['pglite', ...(serverUrl ? (['postgres'] as const) : [])];

if (process.env.CI && !serverUrl) {
  describe('the API on postgres', () => {
    it('has a server to test against', () => {
      throw new Error('CI is set but STRATA_TEST_DATABASE_URL is not: start one with `scripts/postgres-server.sh start` and export its URL (.ci/run does)');
    });
  });
}

let dir: string;
let roots: string;
let model: string;
let brick: string;
let outside: string;

beforeAll(async () => {
  dir = tempDir('api');
  roots = join(dir, 'imports');
  mkdirSync(roots, { recursive: true });
  model = join(dir, 'synthetic.onnx');
  expect(strata(['model', 'synth', '--seed', '3', '--out', model]).status).toBe(0);
  brick = join(roots, 'stimuli.h5');
  await writeImageBrick(brick, 425, 425, demoImages(COUNT, 2));
  // A brick outside the import roots, and a link to it from inside them.
  outside = join(dir, 'private', 'secret.h5');
  mkdirSync(join(dir, 'private'), { recursive: true });
  await writeImageBrick(outside, 425, 425, demoImages(2, 5));
  symlinkSync(outside, join(roots, 'link.h5'));
  mkdirSync(join(roots, 'folder'));
  symlinkSync(outside, join(roots, 'folder', 'escape.png'));
});

/** The API suite's lab: GraphQL as a token holder (or nobody). */
class Lab extends ServeLab {
  static async start(data: string, extraEnv: Record<string, string>): Promise<Lab> {
    const { DATABASE_URL: _ignored, ...base } = process.env;
    const env: NodeJS.ProcessEnv = {
      ...base,
      STRATA_MODELS: `synth=${model}`,
      STRATA_IMPORT_ROOTS: roots,
      STRATA_WORKER_HEARTBEAT_SECONDS: '1',
      STRATA_WORKER_STALE_SECONDS: '4',
      STRATA_WORKER_POLL_SECONDS: '0.5',
      STRATA_WORKER_THREADS: '2',
      ...extraEnv,
    };
    return new Lab(await startServe(['--port', '0', '--data', data, '--workers', '1'], env), data, env);
  }

  gql<T = Record<string, unknown>>(token: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResult<T>> {
    return this.graphql<T>(token ? `Bearer ${token}` : null, query, variables);
  }
}

const code = (result: GraphQLResult<unknown>) => result.errors?.[0]?.extensions?.code;

async function waitForRun(lab: Lab, token: string, id: string, until: (run: Record<string, any>) => boolean, timeoutMs = 300_000): Promise<Record<string, any>> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const { run } = await lab.ok<{ run: Record<string, any> }>(token, 'query($id: ID!) { run(id: $id) { id kind status phase done total rate etaSeconds progress attempts worker error errors { index sourceId message } result } }', { id });
    if (until(run)) return run;
    if (Date.now() > deadline) throw new Error(`run ${id} did not get there in ${timeoutMs / 1000} s: ${JSON.stringify(run)}\n${lab.stderr.join('').slice(-4000)}`);
    await new Promise((resolve) => setTimeout(resolve, 300));
  }
}

describe.each(backends)('the GraphQL API on %s', (backend) => {
  let lab: Lab;
  let scratch: ScratchDatabase | undefined;
  let store: Store;
  let alice: string; // editor, owns the dataset
  let bob: string; // viewer
  let carol: string; // another editor
  let root: string; // admin
  let datasetId: string;

  beforeAll(async () => {
    const data = join(dir, `data-${backend}`);
    scratch = backend === 'postgres' ? await createScratchDatabase(serverUrl as string, 'strata_api_test') : undefined;
    lab = await Lab.start(data, scratch ? { DATABASE_URL: scratch.url } : {});
    alice = lab.token('alice', 'editor');
    bob = lab.token('bob', 'viewer');
    carol = lab.token('carol', 'editor');
    root = lab.token('root', 'admin');
    // The test reads the same database through the core library, as a second client.
    const url = scratch ? scratch.url : runningEmbeddedDatabase(data)?.url;
    expect(url, 'the embedded database publishes its socket URL').toBeTruthy();
    store = await openStore({ databaseUrl: url as string, dataDir: data, migrate: 'verify' });
  });

  afterAll(async () => {
    await store?.close();
    await lab?.stop();
    await scratch?.drop();
  });

  it('refuses requests without a valid token (401 UNAUTHENTICATED)', async () => {
    const none = await lab.gql(null, '{ me { user } }');
    expect(none.status).toBe(401);
    expect(code(none)).toBe('UNAUTHENTICATED');
    const wrong = await lab.gql('strata_' + 'x'.repeat(43), '{ me { user } }');
    expect(wrong.status).toBe(401);
    expect(code(wrong)).toBe('UNAUTHENTICATED');
    expect((await lab.ok(bob, '{ me { user role } }')).me).toEqual({ user: 'bob', role: 'VIEWER' });
  });

  it('lists the layer catalog', async () => {
    const { layers } = await lab.ok(bob, '{ layers { name kind index shape dimension } }');
    expect(layers).toHaveLength(18);
    expect(layers[0]).toEqual({ name: 'conv1', kind: 'CONV', index: 0, shape: [64, 224, 224], dimension: 3211264 });
    expect(layers.at(-1)).toEqual({ name: 'pool5', kind: 'POOL', index: 30, shape: [512, 7, 7], dimension: 25088 });
  });

  it('creates datasets only for editors, only from under the import roots', async () => {
    const create = 'mutation($path: String!, $name: String!) { createDataset(input: { name: $name, source: { path: $path } }) { id name imageCount owner visibility } }';
    const viewer = await lab.gql(bob, create, { path: brick, name: 'nope' });
    expect(code(viewer)).toBe('FORBIDDEN');
    for (const path of [outside, join(roots, 'link.h5'), `${roots}/../private/secret.h5`, join(roots, 'folder'), 'relative.h5']) {
      const refused = await lab.gql(alice, create, { path, name: 'escape' });
      expect(code(refused), `${path}: ${JSON.stringify(refused.errors)}`).toBe('BAD_USER_INPUT');
    }
    const { createDataset } = await lab.ok(alice, create, { path: brick, name: 'stimuli' });
    expect(createDataset).toMatchObject({ name: 'stimuli', imageCount: COUNT, owner: 'alice', visibility: 'PRIVATE' });
    datasetId = createDataset.id;
    expect(code(await lab.gql(alice, create, { path: brick, name: 'stimuli' }))).toBe('CONFLICT');
  });

  it('keeps a private dataset from other users', async () => {
    expect((await lab.ok(carol, 'query($id: ID!) { dataset(id: $id) { name } }', { id: datasetId })).dataset).toBeNull();
    expect((await lab.ok(carol, '{ datasets { name } }')).datasets).toEqual([]);
    expect(code(await lab.gql(carol, 'query($id: ID!) { images(datasetId: $id) { total } }', { id: datasetId }))).toBe('NOT_FOUND');
    expect((await lab.ok(root, 'query($id: ID!) { dataset(id: $id) { name owner } }', { id: datasetId })).dataset).toEqual({ name: 'stimuli', owner: 'alice' });
    const start = 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool5"]) { id } }';
    expect(code(await lab.gql(carol, start, { id: datasetId }))).toBe('NOT_FOUND');
    expect(code(await lab.gql(bob, start, { id: datasetId }))).toBe('NOT_FOUND');
  });

  it('runs an extraction in the worker; a killed worker is replaced and the retry continues from the last batch', async () => {
    const { startExtraction } = await lab.ok(alice, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool4", "pool5"], pcaComponents: 8, sampleSize: 12, batchSize: 2) { id kind status } }', { id: datasetId });
    expect(startExtraction).toMatchObject({ kind: 'EXTRACTION', status: 'QUEUED' });
    const again = await lab.gql(alice, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool5"]) { id } }', { id: datasetId });
    expect(code(again)).toBe('CONFLICT');
    // Kill the worker once some batches of the store pass are committed.
    const midway = await waitForRun(lab, alice, startExtraction.id, (run) => run.status === 'DONE' || (run.phase === 'extract' && run.done >= 4));
    expect(midway.status, 'the extraction finished before the worker could be killed').toBe('RUNNING');
    expect(midway.total).toBe(COUNT);
    const pid = Number(String(midway.worker).split(':')[1]);
    process.kill(pid, 'SIGKILL');
    const done = await waitForRun(lab, alice, startExtraction.id, (run) => run.status === 'DONE' || run.status === 'FAILED');
    expect(done.status, JSON.stringify(done)).toBe('DONE');
    expect(done.attempts).toBeGreaterThanOrEqual(2);
    expect(done.worker).not.toBe(midway.worker);
    expect(done.errors).toEqual([]);
    expect(done.result).toMatchObject({ images: COUNT, failures: 0, resumed: true });
    expect(lab.stderr.join('')).toMatch(/stopped sending heartbeats/);

    const { dataset } = await lab.ok(alice, 'query($id: ID!) { dataset(id: $id) { storedImages layers { name status components vectorCount indexes } runs { id status } } }', { id: datasetId });
    expect(dataset.storedImages).toBe(COUNT);
    expect(dataset.layers).toEqual([
      { name: 'pool4', status: 'READY', components: 8, vectorCount: COUNT, indexes: ['COSINE', 'L2'] },
      { name: 'pool5', status: 'READY', components: 8, vectorCount: COUNT, indexes: ['COSINE', 'L2'] },
    ]);
    // Every image has exactly one vector per layer, as the core library reads them.
    const vectors = await store.readVectors('stimuli', 'pool5');
    expect(vectors.imageIds.length).toBe(COUNT);
    expect(new Set(vectors.imageIds).size).toBe(COUNT);
  });

  it('pages images with signed file URLs (ETag, 304; tampering and other users refused)', async () => {
    const { images } = await lab.ok(alice, 'query($id: ID!) { images(datasetId: $id, offset: 2, limit: 3) { total offset limit items { id index sourceId width height url thumbnailUrl } } }', { id: datasetId });
    expect(images.total).toBe(COUNT);
    expect(images.items.map((item: { index: number }) => item.index)).toEqual([2, 3, 4]);
    expect(images.items[0]).toMatchObject({ sourceId: '2', width: 425, height: 425 });
    const url = images.items[0].url as string;
    const first = await fetch(url);
    expect(first.status).toBe(200);
    expect(first.headers.get('content-type')).toBe('image/png');
    const png = Buffer.from(await first.arrayBuffer());
    expect(png.subarray(1, 4).toString()).toBe('PNG');
    const etag = first.headers.get('etag') as string;
    expect((await fetch(url, { headers: { 'if-none-match': etag } })).status).toBe(304);
    expect((await fetch(url.replace(/sig=./, 'sig=A'))).status).toBe(401);
    expect((await fetch(url.split('?')[0] as string)).status).toBe(401);
    const path = new URL(url).pathname;
    expect((await fetch(`${lab.url}${path}`, { headers: { authorization: `Bearer ${alice}` } })).status).toBe(200);
    expect((await fetch(`${lab.url}${path}`, { headers: { authorization: `Bearer ${carol}` } })).status).toBe(404);
    const thumbnail = await fetch(images.items[0].thumbnailUrl);
    expect(thumbnail.status).toBe(200);
    expect(thumbnail.headers.get('content-type')).toBe('image/jpeg');
    writeFileSync(join(dir, `query-${backend}.png`), png);
  });

  it('answers nearestNeighbors as the core library does; k is bounded', async () => {
    const { images } = await lab.ok(alice, 'query($id: ID!) { images(datasetId: $id, limit: 1, offset: 5) { items { id } } }', { id: datasetId });
    const imageId = images.items[0].id as string;
    for (const metric of ['COSINE', 'L2'] as const) {
      const { nearestNeighbors } = await lab.ok(alice, 'query($img: ID!, $m: Metric) { nearestNeighbors(imageId: $img, layer: "pool5", k: 5, metric: $m) { image { id sourceId } distance } }', { img: imageId, m: metric });
      const expected = await store.nearest({ dataset: 'stimuli', layer: 'pool5', image: { id: Number(imageId) }, k: 5, metric: metric === 'L2' ? 'l2' : 'cosine' });
      expect(nearestNeighbors.map((n: { image: { id: string } }) => Number(n.image.id))).toEqual(expected.neighbors.map((n) => n.image.id));
      nearestNeighbors.forEach((n: { distance: number }, i: number) => expect(n.distance).toBeCloseTo(expected.neighbors[i]?.distance as number, 9));
    }
    const tooMany = await lab.gql(alice, 'query($img: ID!) { nearestNeighbors(imageId: $img, layer: "pool5", k: 101) { distance } }', { img: imageId });
    expect(code(tooMany)).toBe('BAD_USER_INPUT');
    expect(tooMany.errors?.[0]?.message).toMatch(/k must be an integer from 1 to 100, got 101/);
    expect(code(await lab.gql(alice, 'query($img: ID!) { nearestNeighbors(imageId: $img, layer: "pool9") { distance } }', { img: imageId }))).toBe('BAD_USER_INPUT');
    expect(code(await lab.gql(alice, 'query($img: ID!) { nearestNeighbors(imageId: $img, layer: "pool1") { distance } }', { img: imageId }))).toBe('NOT_FOUND');
    expect(code(await lab.gql(alice, 'query($id: ID!) { images(datasetId: $id, limit: 501) { total } }', { id: datasetId }))).toBe('BAD_USER_INPUT');
  });

  it('finds images similar to an uploaded one (base64 and POST /uploads)', async () => {
    const png = readFileSync(join(dir, `query-${backend}.png`));
    const query = 'query($id: ID!, $u: ImageUpload!) { similarImages(datasetId: $id, upload: $u, layer: "pool5", k: 3) { image { sourceId } distance } }';
    const inline = await lab.ok(alice, query, { id: datasetId, u: { base64: png.toString('base64') } });
    // The upload is stored image 2 itself: the same pixels, the same vector.
    expect(inline.similarImages[0].image.sourceId).toBe('2');
    expect(inline.similarImages[0].distance).toBeLessThan(1e-5);
    const upload = await fetch(`${lab.url}/uploads?kind=image`, { method: 'POST', headers: { authorization: `Bearer ${alice}` }, body: png });
    expect(upload.status).toBe(201);
    const { id: uploadId } = (await upload.json()) as { id: string };
    const viaUpload = await lab.ok(alice, query, { id: datasetId, u: { uploadId } });
    expect(viaUpload.similarImages).toEqual(inline.similarImages);
    expect(code(await lab.gql(alice, query, { id: datasetId, u: { base64: 'bm90IGFuIGltYWdl' } }))).toBe('BAD_USER_INPUT');
    expect(code(await lab.gql(alice, query, { id: datasetId, u: {} }))).toBe('BAD_USER_INPUT');
  });

  it('rejects deeply nested and very costly queries before running them', async () => {
    const deep = await lab.gql(alice, '{ datasets { runs { dataset { runs { dataset { runs { dataset { runs { dataset { runs { dataset { name } } } } } } } } } } } }');
    expect(deep.status).toBe(400);
    expect(code(deep)).toBe('QUERY_TOO_DEEP');
    const page = 'images(datasetId: 1, limit: 500) { items { id url thumbnailUrl sourceId index width height } }';
    const wide = await lab.gql(alice, `{ ${Array.from({ length: 8 }, (_, i) => `a${i}: ${page}`).join(' ')} }`);
    expect(wide.status).toBe(400);
    expect(code(wide)).toBe('QUERY_TOO_COMPLEX');
    // A variable limit counts as its largest value.
    expect(code(await lab.gql(alice, 'query($n: Int) { datasets { images(limit: $n) { items { id url thumbnailUrl dataset { name } } } } }', { n: 1 }))).toBe('QUERY_TOO_COMPLEX');
  });

  it('computes a t-SNE map and a layer comparison in the worker, equal to the core library reading the store', async () => {
    const mapMutation = 'mutation($id: ID!) { computeMap(datasetId: $id, layer: "pool5", perplexity: 4, seed: 1) { id kind status } }';
    expect(code(await lab.gql(bob, mapMutation, { id: datasetId }))).toBe('NOT_FOUND');
    const { computeMap } = await lab.ok(alice, mapMutation, { id: datasetId });
    expect(computeMap.kind).toBe('MAP');
    // The same request while it is queued, running or done is the same job.
    const { computeMap: same } = await lab.ok(alice, mapMutation, { id: datasetId });
    expect(same.id).toBe(computeMap.id);
    await waitForRun(lab, alice, computeMap.id, (run) => run.status === 'DONE' || run.status === 'FAILED').then((run) => expect(run.status, JSON.stringify(run)).toBe('DONE'));
    const { tsneMap } = await lab.ok(alice, 'query($id: ID!) { tsneMap(datasetId: $id, layer: "pool5", perplexity: 4, seed: 1) { id status pointCount klDivergence columns { imageIds x y } points(limit: 2) { imageId x y image { sourceId } } mosaicUrl atlas { indexUrl index } } }', { id: datasetId });
    expect(tsneMap.status).toBe('READY');
    expect(tsneMap.pointCount).toBe(COUNT);
    const stored = await getMap(store, Number(tsneMap.id));
    expect(tsneMap.columns.imageIds).toEqual(Array.from(stored?.imageIds ?? []));
    expect(tsneMap.columns.x).toEqual(Array.from(stored?.x ?? []));
    expect(tsneMap.columns.y).toEqual(Array.from(stored?.y ?? []));
    expect(tsneMap.klDivergence).toBe(stored?.klDivergence);
    expect(tsneMap.points[0]).toEqual({ imageId: String(stored?.imageIds[0]), x: stored?.x[0], y: stored?.y[0], image: { sourceId: expect.any(String) } });
    const mosaic = await fetch(tsneMap.mosaicUrl);
    expect(mosaic.status).toBe(200);
    expect(mosaic.headers.get('content-type')).toBe('image/png');
    expect((await fetch(tsneMap.atlas.indexUrl)).status).toBe(200);
    expect(tsneMap.atlas.index).toMatchObject({ format: 'strata-atlas' });
    const missing = await lab.ok(alice, 'query($id: ID!) { tsneMap(datasetId: $id, layer: "pool4", perplexity: 4, seed: 1) { status points { x } } }', { id: datasetId });
    expect(missing.tsneMap).toEqual({ status: 'NOT_COMPUTED', points: [] });

    const compareMutation = 'mutation($id: ID!) { computeComparison(datasetId: $id, layerA: "pool4", layerB: "pool5") { id status } }';
    const before = await lab.ok(alice, 'query($id: ID!) { compareLayers(datasetId: $id, layerA: "pool4", layerB: "pool5") { status cka } }', { id: datasetId });
    expect(before.compareLayers).toEqual({ status: 'NOT_COMPUTED', cka: null });
    const { computeComparison } = await lab.ok(alice, compareMutation, { id: datasetId });
    await waitForRun(lab, alice, computeComparison.id, (run) => run.status === 'DONE' || run.status === 'FAILED').then((run) => expect(run.status, JSON.stringify(run)).toBe('DONE'));
    const { compareLayers } = await lab.ok(alice, 'query($id: ID!) { compareLayers(datasetId: $id, layerA: "pool4", layerB: "pool5") { status cka rsa knnOverlap } }', { id: datasetId });
    expect(compareLayers.status).toBe('READY');
    // The core library, asked the same question on the same database (it reuses the stored result).
    const expected = await compareDatasetLayers(store, { dataset: 'stimuli', layerA: 'pool4', layerB: 'pool5' });
    expect(compareLayers.cka).toBeCloseTo(expected.cka as number, 12);
    expect(compareLayers.rsa).toBeCloseTo(expected.rsa as number, 12);
    expect(compareLayers.knnOverlap).toBeCloseTo(expected.knnOverlap as number, 12);
    expect(compareLayers.cka).toBeGreaterThan(0);
    expect(compareLayers.cka).toBeLessThanOrEqual(1);

    const { computeLayerSimilarity } = await lab.ok(alice, 'mutation($id: ID!) { computeLayerSimilarity(datasetId: $id, metric: CKA) { id } }', { id: datasetId });
    await waitForRun(lab, alice, computeLayerSimilarity.id, (run) => run.status === 'DONE' || run.status === 'FAILED');
    const { layerSimilarityMatrix } = await lab.ok(alice, 'query($id: ID!) { layerSimilarityMatrix(datasetId: $id, metric: CKA) { status layers values } }', { id: datasetId });
    expect(layerSimilarityMatrix.status).toBe('READY');
    expect(layerSimilarityMatrix.layers).toEqual(['pool4', 'pool5']);
    expect(layerSimilarityMatrix.values).toEqual([
      [1, compareLayers.cka],
      [compareLayers.cka, 1],
    ]);
  });

  it('shares a dataset with the lab, and cancels a queued run', async () => {
    const share = 'mutation($id: ID!, $v: Visibility!) { setDatasetVisibility(id: $id, visibility: $v) { visibility } }';
    expect(code(await lab.gql(carol, share, { id: datasetId, v: 'LAB' }))).toBe('NOT_FOUND');
    expect((await lab.ok(alice, share, { id: datasetId, v: 'LAB' })).setDatasetVisibility.visibility).toBe('LAB');
    expect((await lab.ok(carol, '{ datasets { name owner } }')).datasets).toEqual([{ name: 'stimuli', owner: 'alice' }]);
    // Seen, not changed: only its owner (or an admin) extracts more layers.
    expect(code(await lab.gql(carol, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool3"]) { id } }', { id: datasetId }))).toBe('FORBIDDEN');
    // A second dataset whose extraction is cancelled right away.
    const { createDataset } = await lab.ok(carol, 'mutation($p: String!) { createDataset(input: { name: "again", source: { path: $p }, visibility: LAB }) { id } }', { p: brick });
    const { startExtraction } = await lab.ok(carol, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool1"], pcaComponents: 4, sampleSize: 8) { id } }', { id: createDataset.id });
    expect(code(await lab.gql(alice, 'mutation($id: ID!) { cancelRun(id: $id) { status } }', { id: startExtraction.id }))).toBe('FORBIDDEN');
    const { cancelRun } = await lab.ok(carol, 'mutation($id: ID!) { cancelRun(id: $id) { id status cancelRequested } }', { id: startExtraction.id });
    expect(cancelRun.cancelRequested).toBe(true);
    const finished = await waitForRun(lab, carol, startExtraction.id, (run) => ['CANCELLED', 'DONE', 'FAILED'].includes(run.status), 120_000);
    expect(finished.status).toBe('CANCELLED');
    const { runs } = await lab.ok(carol, '{ runs(status: [CANCELLED]) { id owner } }');
    expect(runs).toEqual([{ id: startExtraction.id, owner: 'carol' }]);
  });

  it('stops honouring a revoked token', async () => {
    const token = lab.token('dave', 'viewer');
    const list = lab.cli(['token', 'list', '--data', lab.data]);
    expect(list.stdout).toMatch(/dave\s+viewer/);
    expect(list.stdout).not.toContain(token);
    const id = /^\s*(\d+)\s+\S+\s+dave/m.exec(list.stdout)?.[1] as string;
    expect(lab.cli(['token', 'revoke', id, '--data', lab.data]).status).toBe(0);
    expect(code(await lab.gql(token, '{ me { user } }'))).toBe('UNAUTHENTICATED');
  });
});
