/**
 * Bad input, end to end (docs/reliability.md, "Bad input"): corrupt, truncated and oversized
 * image files, 16-bit and CMYK images (accepted, as PIL converts them), HDF5 files that are no
 * readable uint8 brick, paths outside the import roots, unknown layers, k = 1000000, hostile
 * GraphQL queries and bad tokens — through the CLI (`strata extract`, `strata ingest`) and the
 * API (`strata serve`: createDataset, an extraction run over a folder of good and bad images,
 * similarImages uploads). Each refusal must name the file, image or field at fault, and what
 * is already stored must stay exactly as it was (rows and a checksum over the vectors, read
 * with SQL before and after).
 *
 * The image fixtures come from packages/core/test/reference/bad_inputs.py (PIL, h5py); the
 * library-level checks against PIL are in packages/core/test/bad-input.test.ts.
 */
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readFileSync, realpathSync, statSync, symlinkSync, truncateSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runningEmbeddedDatabase } from '@strata/api';
import { demoImages, writeImageBrick } from '@strata/core/sources';
import { openStore, type Store } from '@strata/core/store';
import { CLI, type GraphQLResult, python, ROOT, ServeLab, startServe, tempDir } from './helpers.js';

const FIXTURES = join(ROOT, 'packages/core/test/reference/bad_inputs.py');
const BRICK_IMAGES = 8;

/** The folder of images, in source order (sorted by name): what each one must come to. */
const PHOTOS: readonly (readonly [string, RegExp | 'ok'])[] = [
  ['bomb.jpg', /image is 30000x30000 = 900000000 pixels, over the limit of 178956970 \(decompression-bomb guard, as in PIL\)$/],
  ['bomb.png', /image is 30000x30000 = 900000000 pixels, over the limit of 178956970 \(decompression-bomb guard, as in PIL\)$/],
  ['cmyk.jpg', 'ok'],
  ['corrupt.jpg', /corrupt image header \(VipsJpeg: Bogus Huffman table definition\)$/],
  ['corrupt.png', /corrupt or truncated image data \(vipspng: libpng read error\)$/],
  ['good.jpg', 'ok'],
  ['good.png', 'ok'],
  ['rgb16.png', 'ok'],
  ['truncated.jpg', /corrupt or truncated image data \(VipsJpeg: premature end of JPEG image\)$/],
  ['truncated.png', /corrupt or truncated image data \(vipspng: libpng read error\)$/],
];
const READABLE = PHOTOS.filter(([, expected]) => expected === 'ok').map(([name]) => name);
const UNREADABLE = PHOTOS.flatMap(([name, expected], index) => (expected === 'ok' ? [] : [{ index, name, reason: expected }]));

/** HDF5 files that are no image brick, and what the refusal says after "HDF5 file <path>". */
const BAD_HDF5: readonly (readonly [string, RegExp])[] = [
  ['truncated.h5', /^: cannot open as HDF5 \(truncated file: eof = \d+/],
  ['float32.h5', /^, dataset '\/imgBrick': element type is float32, expected uint8/],
  ['rank2.h5', /^, dataset '\/imgBrick': shape is 4 x 3072 \(rank 2\); expected uint8 images as N x H x W x 3/],
  ['lzf.h5', /^, dataset '\/imgBrick': compressed with LZF \(id 32000\), which h5wasm cannot decode .*h5repack/],
  ['bomb.h5', /^, dataset '\/imgBrick': shape is 2 x 30000 x 30000 x 3: each image is 30000x30000 = 900000000 pixels, over the limit of 178956970/],
];

let dir: string;
let roots: string; // the API's import root, also where the CLI reads from
let photos: string;
let brick: string;
let outside: string;
let allBad: string; // a folder of unreadable images only
let model: string;

const escape = (text: string): string => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The CLI's error line (`strata: ...`); HDF5 or progress output may come before it. */
const errorLine = (stderr: string): string => stderr.split('\n').filter((line) => line.startsWith('strata: ')).at(-1) ?? stderr;

/** The CLI with the test's environment minus any DATABASE_URL (the embedded database in --data). */
function run(args: readonly string[], env: NodeJS.ProcessEnv = process.env) {
  const { DATABASE_URL: _ignored, ...rest } = env;
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: rest, maxBuffer: 1 << 26 });
}

interface Snapshot {
  readonly images: number;
  readonly vectors: number;
  readonly layers: string;
  readonly checksum: string;
}

/** Rows of a dataset and an md5 over its images, layers, bases and every vector, read with SQL. */
async function snapshot(store: Store, dataset: string): Promise<Snapshot> {
  const rows = await store.withPrisma((prisma) =>
    prisma.$queryRawUnsafe<Snapshot[]>(
      `WITH d AS (SELECT id FROM dataset WHERE name = $1),
            l AS (SELECT dl.* FROM dataset_layer dl JOIN d ON dl.dataset_id = d.id),
            i AS (SELECT im.* FROM image im JOIN d ON im.dataset_id = d.id),
            v AS (SELECT fv.* FROM feature_vector fv JOIN l ON fv.dataset_layer_id = l.id)
       SELECT (SELECT count(*)::int FROM i) AS images,
              (SELECT count(*)::int FROM v) AS vectors,
              (SELECT string_agg(l.layer || ' ' || l.status || ' ' || l.components || ' ' || coalesce(b.sha256, '-'), ', ' ORDER BY l.layer)
                 FROM l LEFT JOIN pca_basis b ON b.id = l.pca_basis_id) AS layers,
              md5(coalesce((SELECT string_agg(concat_ws(':', i.id, i.index, i.source_id, i.width, i.height), ',' ORDER BY i.id) FROM i), '') || '|' ||
                  coalesce((SELECT string_agg(concat_ws(':', v.dataset_layer_id, v.image_id, v.vector::text), ',' ORDER BY v.dataset_layer_id, v.image_id) FROM v), '')) AS checksum`,
      dataset,
    ),
  );
  return rows[0] as Snapshot;
}

beforeAll(async () => {
  dir = realpathSync(tempDir('bad-input'));
  roots = join(dir, 'imports');
  photos = join(roots, 'photos');
  python([FIXTURES, 'images', photos, join(dir, 'pil')]);
  python([FIXTURES, 'hdf5', roots]);
  brick = join(roots, 'good.h5');
  await writeImageBrick(brick, 425, 425, demoImages(BRICK_IMAGES, 2));
  copyFileSync(brick, join(roots, 'truncated.h5'));
  truncateSync(join(roots, 'truncated.h5'), Math.floor(statSync(brick).size / 2));
  // Outside the import roots, and links to it from inside them.
  outside = join(dir, 'private', 'secret.h5');
  mkdirSync(join(dir, 'private'));
  copyFileSync(brick, outside);
  symlinkSync(outside, join(roots, 'link.h5'));
  mkdirSync(join(roots, 'linked-folder'));
  copyFileSync(join(photos, 'good.png'), join(roots, 'linked-folder', 'fine.png'));
  copyFileSync(join(photos, 'good.jpg'), join(dir, 'private', 'elsewhere.jpg'));
  symlinkSync(join(dir, 'private', 'elsewhere.jpg'), join(roots, 'linked-folder', 'escape.jpg'));
  allBad = join(roots, 'all-bad');
  mkdirSync(allBad);
  for (const name of ['corrupt.jpg', 'truncated.png']) copyFileSync(join(photos, name), join(allBad, name));
  model = join(dir, 'synthetic.onnx');
  const synth = run(['model', 'synth', '--seed', '3', '--out', model]);
  expect(synth.status, synth.stderr).toBe(0);
}, 300_000);

interface ImagesJson {
  rows: { index: number; id: string }[];
  failures: { index: number; id: string; error: string }[];
}

describe('strata extract and strata ingest on bad files', () => {
  it('extract skips corrupt, truncated and 30,000 x 30,000 images, naming index and path; 16-bit and CMYK images go through', () => {
    const out = join(dir, 'extract-photos');
    const result = run(['extract', '--model', model, '--images', photos, '--layers', 'pool1', '--out', out, '--batch-size', '4']);
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/6 skipped \(listed in images\.json\)/);
    const images = JSON.parse(readFileSync(join(out, 'images.json'), 'utf8')) as ImagesJson;
    expect(images.rows.map((row) => row.id)).toEqual(READABLE);
    expect(images.failures.map((failure) => [failure.index, failure.id])).toEqual(UNREADABLE.map((bad) => [bad.index, bad.name]));
    for (const [k, bad] of UNREADABLE.entries()) {
      const path = join(photos, bad.name);
      expect(images.failures[k]?.error.startsWith(`${path}: `)).toBe(true);
      expect(images.failures[k]?.error).toMatch(bad.reason);
      expect(result.stderr).toContain(`skipped image ${bad.index} (${bad.name}): ${path}: `);
    }
    const shape = python(['-c', 'import numpy as np, sys; print(np.load(sys.argv[1], mmap_mode="r").shape)', join(out, 'pool1.npy')]);
    expect(shape.trim()).toBe(`(${READABLE.length}, 802816)`);

    const stopped = run(['extract', '--model', model, '--images', photos, '--layers', 'pool1', '--out', join(dir, 'extract-stop'), '--stop-on-error']);
    expect(stopped.status).toBe(1);
    expect(stopped.stderr).toMatch(new RegExp(`image 0 \\(bomb\\.jpg\\): ${escape(join(photos, 'bomb.jpg'))}: image is 30000x30000`));
  });

  it.each(BAD_HDF5)('extract refuses %s before any work, naming the file, the dataset and the problem', (file, problem) => {
    const path = join(roots, file);
    const out = join(dir, `extract-${file}`);
    const started = performance.now();
    const result = run(['extract', '--model', model, '--images', path, '--layers', 'pool1', '--out', out]);
    expect(result.status).toBe(1);
    const line = errorLine(result.stderr);
    expect(line.startsWith(`strata: HDF5 file ${path}`), line).toBe(true);
    expect(line.slice(`strata: HDF5 file ${path}`.length)).toMatch(problem);
    expect(existsSync(join(out, 'pool1.npy'))).toBe(false);
    expect(performance.now() - started).toBeLessThan(30_000);
  });

  it('ingest refuses bad files, unknown layers and a clashing source; stores the good images of a folder; a stored dataset stays as it was', async () => {
    const data = join(dir, 'cli-data');
    const ingest = (args: readonly string[]) => run(['ingest', '--model', model, '--data', data, '--batch-size', '4', ...args]);
    const good = ingest(['--images', brick, '--name', 'good', '--layers', 'pool1', '--pca', '4', '--sample', '8']);
    expect(good.status, good.stderr).toBe(0);
    const read = async (): Promise<Snapshot> => {
      const store = await openStore({ dataDir: data });
      try {
        return await snapshot(store, 'good');
      } finally {
        await store.close();
      }
    };
    const before = await read();
    expect(before).toMatchObject({ images: BRICK_IMAGES, vectors: BRICK_IMAGES });

    for (const [file, problem] of BAD_HDF5) {
      const path = join(roots, file);
      const refused = ingest(['--images', path, '--name', 'good', '--layers', 'pool1', '--pca', '4']);
      expect(refused.status, file).toBe(1);
      expect(errorLine(refused.stderr).slice(`strata: HDF5 file ${path}`.length)).toMatch(problem);
    }
    const unknown = ingest(['--images', brick, '--name', 'good', '--layers', 'pool1,pool9', '--pca', '4']);
    expect(unknown.status).toBe(1);
    expect(errorLine(unknown.stderr)).toMatch(/^strata: Unknown layer "pool9"; expected one of conv1, conv2, /);
    const clash = ingest(['--images', photos, '--name', 'good', '--layers', 'pool1', '--pca', '4']);
    expect(clash.status).toBe(1);
    expect(clash.stderr).toContain(`dataset "good" holds ${brick} (${BRICK_IMAGES} images); this ingest reads ${photos} (${PHOTOS.length} images); use another --name`);

    const folder = ingest(['--images', photos, '--name', 'photos', '--layers', 'pool1', '--pca', '2', '--sample', '10']);
    expect(folder.status, folder.stderr).toBe(0);
    expect(folder.stdout).toMatch(new RegExp(`dataset "photos": ${READABLE.length} images in .*, ${UNREADABLE.length} unreadable`));
    for (const bad of UNREADABLE) expect(folder.stderr).toContain(`skipped image ${bad.index} (${bad.name}): ${join(photos, bad.name)}: `);

    expect(await read()).toEqual(before);
  });
});

/** The bad-input suite's lab (API, one worker, the embedded database): uploads and memory too. */
class Lab extends ServeLab {
  static async start(data: string): Promise<Lab> {
    const { DATABASE_URL: _ignored, ...base } = process.env;
    const env: NodeJS.ProcessEnv = {
      ...base,
      STRATA_MODELS: `synth=${model}`,
      STRATA_IMPORT_ROOTS: roots,
      STRATA_WORKER_POLL_SECONDS: '0.5',
      STRATA_WORKER_THREADS: '2',
    };
    return new Lab(await startServe(['--port', '0', '--data', data, '--workers', '1'], env), data, env);
  }

  async upload(token: string | null, kind: string, body: Buffer): Promise<{ status: number; body: Record<string, any> }> {
    const response = await fetch(`${this.url}/uploads?kind=${kind}`, { method: 'POST', headers: token ? { authorization: `Bearer ${token}` } : {}, body });
    return { status: response.status, body: (await response.json()) as Record<string, any> };
  }

  /** Peak resident memory of the API process (Linux), in bytes. */
  peakRss(): number | null {
    const status = `/proc/${this.child.pid}/status`;
    if (!existsSync(status)) return null;
    const kb = /VmHWM:\s+(\d+) kB/.exec(readFileSync(status, 'utf8'))?.[1];
    return kb ? Number(kb) * 1024 : null;
  }
}

/** The first error's code and message. */
const first = (result: GraphQLResult<unknown>) => ({ code: result.errors?.[0]?.extensions?.code, message: result.errors?.[0]?.message ?? '' });

describe('the API on bad input', () => {
  let lab: Lab;
  let store: Store;
  let alice: string; // editor, owns the datasets
  let bob: string; // viewer
  let datasetId: string;
  let imageId: string;
  let before: Snapshot;
  let neighborsBefore: unknown;

  const waitForRun = async (id: string, timeoutMs = 300_000): Promise<Record<string, any>> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const { run: job } = await lab.ok(alice, 'query($id: ID!) { run(id: $id) { id status phase error errors { index sourceId message } result } }', { id });
      if (['DONE', 'FAILED', 'CANCELLED'].includes(job.status)) return job;
      if (Date.now() > deadline) throw new Error(`run ${id} did not finish in ${timeoutMs / 1000} s: ${JSON.stringify(job)}\n${lab.stderr.join('').slice(-4000)}`);
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
  };
  const create = 'mutation($path: String, $upload: ID, $name: String!) { createDataset(input: { name: $name, source: { path: $path, uploadId: $upload }, visibility: LAB }) { id name imageCount } }';
  const neighbors = 'query($img: ID!, $k: Int, $layer: String!) { nearestNeighbors(imageId: $img, layer: $layer, k: $k) { image { id sourceId } distance } }';

  beforeAll(async () => {
    const data = join(dir, 'api-data');
    lab = await Lab.start(data);
    alice = lab.token('alice', 'editor');
    bob = lab.token('bob', 'viewer');
    const url = runningEmbeddedDatabase(data)?.url;
    expect(url, 'the embedded database publishes its socket URL').toBeTruthy();
    store = await openStore({ databaseUrl: url as string, dataDir: data, migrate: 'verify' });
    // A dataset with stored vectors, which nothing below may change.
    const { createDataset } = await lab.ok(alice, create, { path: brick, name: 'good' });
    datasetId = createDataset.id;
    const { startExtraction } = await lab.ok(alice, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool1"], pcaComponents: 4, sampleSize: 8, batchSize: 4) { id } }', { id: datasetId });
    const done = await waitForRun(startExtraction.id);
    expect(done.status, JSON.stringify(done)).toBe('DONE');
    before = await snapshot(store, 'good');
    expect(before).toMatchObject({ images: BRICK_IMAGES, vectors: BRICK_IMAGES });
    const { images } = await lab.ok(alice, 'query($id: ID!) { images(datasetId: $id, limit: 1) { items { id } } }', { id: datasetId });
    imageId = images.items[0].id;
    neighborsBefore = (await lab.ok(bob, neighbors, { img: imageId, k: 5, layer: 'pool1' })).nearestNeighbors;
  }, 600_000);

  afterAll(async () => {
    await store?.close();
    await lab?.stop();
  });

  it('refuses missing, malformed, unknown, revoked and wrong-role tokens', async () => {
    const me = '{ me { user role } }';
    for (const authorization of [null, 'Bearer', `Basic ${Buffer.from('alice:secret').toString('base64')}`, `Bearer ${alice} extra`, `Token ${alice}`]) {
      const refused = await lab.graphql(authorization, me);
      expect(refused.status, String(authorization)).toBe(401);
      expect(first(refused)).toEqual({ code: 'UNAUTHENTICATED', message: 'send your API token as `Authorization: Bearer <token>` (create one with `strata token create`)' });
    }
    const revoked = lab.token('mallory', 'editor');
    const list = run(['token', 'list', '--data', lab.data], lab.env);
    const id = /^\s*(\d+)\s+\S+\s+mallory/m.exec(list.stdout)?.[1] as string;
    const revoke = run(['token', 'revoke', id, '--data', lab.data], lab.env);
    expect(revoke.status, revoke.stderr).toBe(0);
    for (const token of ['strata_' + 'x'.repeat(43), 'not-a-strata-token', alice.slice(0, -1), revoked]) {
      const refused = await lab.graphql(`Bearer ${token}`, me);
      expect(refused.status).toBe(401);
      expect(first(refused)).toEqual({ code: 'UNAUTHENTICATED', message: 'the bearer token is unknown or revoked' });
    }
    // The plain routes too.
    const noToken = await lab.upload(null, 'image', Buffer.from('x'));
    expect(noToken.status).toBe(401);
    expect(noToken.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
    expect((await fetch(`${lab.url}/files/images/${imageId}`)).status).toBe(401);

    // Wrong role: a viewer may read and search, not create, extract or upload datasets.
    expect((await lab.ok(bob, me)).me).toEqual({ user: 'bob', role: 'VIEWER' });
    expect(first(await lab.graphql(`Bearer ${bob}`, create, { path: brick, name: 'by-bob' }))).toEqual({
      code: 'FORBIDDEN',
      message: 'createDataset needs the editor role; your token (bob) has viewer',
    });
    expect(first(await lab.graphql(`Bearer ${bob}`, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool2"]) { id } }', { id: datasetId }))).toEqual({
      code: 'FORBIDDEN',
      message: 'startExtraction needs the editor role; your token (bob) has viewer',
    });
    const hdf5Upload = await lab.upload(bob, 'hdf5', readFileSync(brick));
    expect(hdf5Upload.status).toBe(403);
    expect(hdf5Upload.body.errors[0]).toEqual({ message: 'uploading datasets needs the editor role; bob has viewer', extensions: { code: 'FORBIDDEN' } });
  });

  it('refuses import paths outside the roots, through .., a link, or a folder holding a link', async () => {
    const cases: [string, string][] = [
      [outside, `${outside} is outside the import roots; allowed: ${roots}`],
      [`${roots}/../private/secret.h5`, `${roots}/../private/secret.h5 (really ${outside}) is outside the import roots; allowed: ${roots}`],
      [join(roots, 'link.h5'), `${join(roots, 'link.h5')} (really ${outside}) is outside the import roots; allowed: ${roots}`],
      [join(roots, 'linked-folder'), `${join(roots, 'linked-folder', 'escape.jpg')} is a link to ${join(dir, 'private', 'elsewhere.jpg')}, outside the import roots`],
      ['/etc/passwd', `/etc/passwd is outside the import roots; allowed: ${roots}`],
      ['imports/good.h5', 'source path must be absolute, got "imports/good.h5"'],
      [join(roots, 'missing.h5'), `no such file or folder: ${join(roots, 'missing.h5')}`],
    ];
    for (const [path, message] of cases) {
      const refused = await lab.graphql(`Bearer ${alice}`, create, { path, name: 'escape' });
      expect(first(refused), path).toEqual({ code: 'BAD_USER_INPUT', message });
      expect(refused.errors?.[0]?.extensions?.argument).toBe('input.source.path');
    }
  });

  it.each(BAD_HDF5)('refuses %s as a dataset source, naming the file, the dataset and the problem', async (file, problem) => {
    const path = join(roots, file);
    const refused = await lab.graphql(`Bearer ${alice}`, create, { path, name: `bad-${file.replace('.', '-')}` });
    expect(first(refused).code).toBe('BAD_USER_INPUT');
    expect(first(refused).message.startsWith(`HDF5 file ${path}`), first(refused).message).toBe(true);
    expect(first(refused).message.slice(`HDF5 file ${path}`.length)).toMatch(problem);
    expect(refused.errors?.[0]?.extensions?.argument).toBe('input.source');
  });

  it('refuses an uploaded HDF5 file that is truncated, and a body that is not HDF5', async () => {
    const truncated = await lab.upload(alice, 'hdf5', readFileSync(join(roots, 'truncated.h5')));
    expect(truncated.status).toBe(201);
    const refused = await lab.graphql(`Bearer ${alice}`, create, { upload: truncated.body.id, name: 'uploaded' });
    expect(first(refused).code).toBe('BAD_USER_INPUT');
    expect(first(refused).message).toMatch(new RegExp(`^HDF5 file \\S+/uploads/${truncated.body.id}\\.h5: cannot open as HDF5 \\(truncated file: eof = `));
    const notHdf5 = await lab.upload(alice, 'hdf5', readFileSync(join(photos, 'good.png')));
    expect(notHdf5.status).toBe(400);
    expect(notHdf5.body.errors[0].message).toBe('the body is not an HDF5 file (no HDF5 signature)');
  });

  it('refuses unknown layers and k = 1000000, saying what is allowed', async () => {
    const unknownLayer = /^Unknown layer "pool9"; expected one of conv1, conv2, .*pool5$/;
    const nn = await lab.graphql(`Bearer ${bob}`, neighbors, { img: imageId, k: 5, layer: 'pool9' });
    expect(first(nn).code).toBe('BAD_USER_INPUT');
    expect(first(nn).message).toMatch(unknownLayer);
    expect(nn.errors?.[0]?.extensions?.argument).toBe('layer');
    const extraction = await lab.graphql(`Bearer ${alice}`, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool1", "pool9"]) { id } }', { id: datasetId });
    expect(first(extraction).code).toBe('BAD_USER_INPUT');
    expect(first(extraction).message).toMatch(unknownLayer);
    const map = await lab.graphql(`Bearer ${alice}`, 'mutation($id: ID!) { computeMap(datasetId: $id, layer: "pool9") { id } }', { id: datasetId });
    expect(first(map).code).toBe('BAD_USER_INPUT');
    // A real layer this dataset has not extracted.
    expect(first(await lab.graphql(`Bearer ${bob}`, neighbors, { img: imageId, k: 5, layer: 'pool5' }))).toEqual({ code: 'NOT_FOUND', message: `the dataset of image ${imageId} has no layer "pool5"` });

    for (const k of [1_000_000, 101, 0, -1]) {
      const refused = await lab.graphql(`Bearer ${bob}`, neighbors, { img: imageId, k, layer: 'pool1' });
      expect(first(refused), String(k)).toEqual({ code: 'BAD_USER_INPUT', message: `k must be an integer from 1 to 100, got ${k}` });
    }
    const literal = await lab.graphql(`Bearer ${bob}`, `{ nearestNeighbors(imageId: ${imageId}, layer: "pool1", k: 1000000) { distance } }`);
    expect(first(literal)).toEqual({ code: 'BAD_USER_INPUT', message: 'k must be an integer from 1 to 100, got 1000000' });
    const huge = await lab.graphql(`Bearer ${bob}`, neighbors, { img: imageId, k: 10_000_000_000, layer: 'pool1' });
    expect(huge.status).toBe(400);
    expect(first(huge).message).toMatch(/Variable "\$k" got invalid value 10000000000; Int cannot represent non 32-bit signed integer value/);
    const similar = await lab.graphql(`Bearer ${bob}`, 'query($id: ID!, $u: ImageUpload!) { similarImages(datasetId: $id, upload: $u, layer: "pool1", k: 1000000) { distance } }', {
      id: datasetId,
      u: { base64: readFileSync(join(photos, 'good.png')).toString('base64') },
    });
    expect(first(similar).message).toBe('k must be an integer from 1 to 100, got 1000000');
  });

  it('refuses deeply nested and very wide queries before running them', async () => {
    const deep = await lab.graphql(`Bearer ${bob}`, '{ datasets { runs { dataset { runs { dataset { runs { dataset { runs { dataset { runs { dataset { name } } } } } } } } } } } }');
    expect(deep.status).toBe(400);
    expect(first(deep)).toEqual({ code: 'QUERY_TOO_DEEP', message: 'query is nested more than 10 levels deep; at most 10 are allowed' });
    const tooComplex = /^query costs more than 20000 \(each field counts once per item the lists above it can return\)/;
    const page = 'images(datasetId: 1, limit: 500) { items { id url thumbnailUrl sourceId index width height } }';
    const aliases = await lab.graphql(`Bearer ${bob}`, `{ ${Array.from({ length: 8 }, (_, i) => `a${i}: ${page}`).join(' ')} }`);
    expect(aliases.status).toBe(400);
    expect(first(aliases).code).toBe('QUERY_TOO_COMPLEX');
    expect(first(aliases).message).toMatch(tooComplex);
    // Fields that each cost next to nothing to answer still add up; a huge text is not even parsed.
    const typenames = (count: number): string => `{ ${Array.from({ length: count }, (_, i) => `t${i}: __typename`).join(' ')} }`;
    const wide = await lab.graphql(`Bearer ${bob}`, typenames(25_000));
    expect(wide.status).toBe(400);
    expect(first(wide).code).toBe('QUERY_TOO_COMPLEX');
    expect(first(wide).message).toMatch(tooComplex);
    const started = performance.now();
    const huge = await lab.graphql(`Bearer ${bob}`, typenames(200_000));
    expect(huge.status).toBe(400);
    expect(first(huge)).toEqual({ code: 'GRAPHQL_PARSE_FAILED', message: 'Syntax Error: Document contains more that 100000 tokens. Parsing aborted.' });
    expect(performance.now() - started).toBeLessThan(5_000);
    // Introspection: graphql-js refuses lists nested in lists, Strata's budget many aliased walks of the schema.
    const nested = await lab.graphql(`Bearer ${bob}`, '{ __schema { types { fields { type { fields { type { fields { name } } } } } } } }');
    expect(nested.status).toBe(400);
    expect(first(nested)).toEqual({ code: 'GRAPHQL_VALIDATION_FAILED', message: 'Maximum introspection depth exceeded' });
    const walk = '__schema { types { fields { args { name type { name ofType { name } } } type { ofType { ofType { fields { name args { name } } } } } } } }';
    const introspection = await lab.graphql(`Bearer ${bob}`, `{ ${Array.from({ length: 400 }, (_, i) => `a${i}: ${walk}`).join(' ')} }`);
    expect(introspection.status).toBe(400);
    expect(first(introspection)).toEqual({
      code: 'QUERY_TOO_COMPLEX',
      message: 'introspection costs more than 1000000 (its lists of types, fields and arguments multiply when nested); ask for what the standard introspection query asks',
    });
    // The introspection queries that tools send still work, with every option too.
    const { getIntrospectionQuery } = await import('graphql');
    const all = { descriptions: true, specifiedByUrl: true, directiveIsRepeatable: true, schemaDescription: true, inputValueDeprecation: true, oneOf: true };
    for (const text of [getIntrospectionQuery(), getIntrospectionQuery(all)]) {
      const standard = await lab.graphql(`Bearer ${bob}`, text);
      expect(standard.errors).toBeUndefined();
      expect((standard.data as { __schema: { types: unknown[] } }).__schema.types.length).toBeGreaterThan(40);
    }
    const cycle = await lab.graphql(`Bearer ${bob}`, 'query { datasets { ...A } } fragment A on Dataset { runs { dataset { ...A } } }');
    // Once a stack overflow (500); now refused like any endless nesting.
    expect(cycle.status).toBe(400);
    expect(cycle.errors?.map((error) => error.message)).toEqual([
      'query is nested more than 10 levels deep; at most 10 are allowed',
      'Cannot spread fragment "A" within itself.',
    ]);
  });

  it('answers bad similarImages uploads with BAD_USER_INPUT naming the upload; 16-bit and CMYK images are searched', async () => {
    const query = 'query($id: ID!, $u: ImageUpload!) { similarImages(datasetId: $id, upload: $u, layer: "pool1", k: 3) { image { sourceId } distance } }';
    const inline = (name: string) => ({ id: datasetId, u: { base64: readFileSync(join(photos, name)).toString('base64') } });
    for (const name of ['rgb16.png', 'cmyk.jpg', 'good.jpg']) {
      const { similarImages } = await lab.ok(bob, query, inline(name));
      expect(similarImages, name).toHaveLength(3);
    }
    const peak = lab.peakRss();
    for (const bad of UNREADABLE) {
      const bytes = statSync(join(photos, bad.name)).size;
      const started = performance.now();
      const refused = await lab.graphql(`Bearer ${bob}`, query, inline(bad.name));
      expect(first(refused).code, bad.name).toBe('BAD_USER_INPUT');
      expect(refused.errors?.[0]?.extensions?.argument).toBe('upload');
      const prefix = `upload.base64 (${bytes} bytes): `;
      expect(first(refused).message.startsWith(prefix), first(refused).message).toBe(true);
      const reason = first(refused).message.slice(prefix.length);
      if (bad.name.startsWith('bomb')) {
        expect(reason).toBe('image is 30000x30000 = 900000000 pixels, over the limit of 40000000 (decompression-bomb guard, as in PIL); the limit is STRATA_MAX_UPLOAD_PIXELS');
        expect(performance.now() - started, `${bad.name} took too long`).toBeLessThan(3000);
      } else {
        expect(reason).toMatch(bad.reason);
      }
    }
    // The same through POST /uploads: the error names the upload id.
    const stored = await lab.upload(bob, 'image', readFileSync(join(photos, 'bomb.png')));
    expect(stored.status).toBe(201);
    const refused = await lab.graphql(`Bearer ${bob}`, query, { id: datasetId, u: { uploadId: stored.body.id } });
    expect(first(refused)).toEqual({
      code: 'BAD_USER_INPUT',
      message: `upload ${stored.body.id}: image is 30000x30000 = 900000000 pixels, over the limit of 40000000 (decompression-bomb guard, as in PIL); the limit is STRATA_MAX_UPLOAD_PIXELS`,
    });
    expect(first(await lab.graphql(`Bearer ${bob}`, query, { id: datasetId, u: { base64: 'not base64!' } }))).toEqual({ code: 'BAD_USER_INPUT', message: 'upload.base64 is not valid base64' });
    // Refusing 2.7 GB images allocated none of it.
    const after = lab.peakRss();
    if (peak !== null && after !== null) expect(after - peak).toBeLessThan(256 << 20);
  });

  it('extracts a folder of good and bad images: one error per bad image with its index and path, the good ones stored', async () => {
    const { createDataset } = await lab.ok(alice, create, { path: photos, name: 'photos' });
    expect(createDataset.imageCount).toBe(PHOTOS.length);
    const { startExtraction } = await lab.ok(alice, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool1"], pcaComponents: 2, sampleSize: 10, batchSize: 4) { id } }', { id: createDataset.id });
    const done = await waitForRun(startExtraction.id);
    expect(done.status, JSON.stringify(done)).toBe('DONE');
    expect(done.result).toMatchObject({ images: READABLE.length, failures: UNREADABLE.length });
    expect(done.errors.map((error: { index: number; sourceId: string }) => [error.index, error.sourceId])).toEqual(UNREADABLE.map((bad) => [bad.index, bad.name]));
    for (const [k, bad] of UNREADABLE.entries()) {
      expect(done.errors[k].message.startsWith(`${join(photos, bad.name)}: `)).toBe(true);
      expect(done.errors[k].message).toMatch(bad.reason);
    }
    const { images } = await lab.ok(alice, 'query($id: ID!) { images(datasetId: $id) { total items { sourceId } } }', { id: createDataset.id });
    expect(images.items.map((item: { sourceId: string }) => item.sourceId)).toEqual(READABLE);
    expect(await snapshot(store, 'photos')).toMatchObject({ images: READABLE.length, vectors: READABLE.length });
  });

  it('fails an extraction whose images are all unreadable at once, naming one of them', async () => {
    const { createDataset } = await lab.ok(alice, create, { path: allBad, name: 'all-bad' });
    const { startExtraction } = await lab.ok(alice, 'mutation($id: ID!) { startExtraction(datasetId: $id, layers: ["pool1"], pcaComponents: 2, sampleSize: 10) { id } }', { id: createDataset.id });
    const failed = await waitForRun(startExtraction.id);
    expect(failed.status).toBe('FAILED');
    expect(failed.error).toBe(
      `only 0 of the 2 sampled images could be read (2 failed, e.g. image 0 (corrupt.jpg): ${join(allBad, 'corrupt.jpg')}: corrupt image header (VipsJpeg: Bogus Huffman table definition)): too few for 2 PCA components of pool1`,
    );
    expect(await snapshot(store, 'all-bad')).toMatchObject({ images: 0, vectors: 0 });
  });

  it('still holds exactly the rows and vectors it held before, and answers as before', async () => {
    expect(await snapshot(store, 'good')).toEqual(before);
    expect((await lab.ok(bob, neighbors, { img: imageId, k: 5, layer: 'pool1' })).nearestNeighbors).toEqual(neighborsBefore);
    const health = await fetch(`${lab.url}/healthz`);
    expect(health.status).toBe(200);
    expect(((await health.json()) as { ok: boolean }).ok).toBe(true);
    expect(lab.child.exitCode).toBeNull();
    expect(lab.stderr.join('')).not.toMatch(/internal error/);
  });
});
