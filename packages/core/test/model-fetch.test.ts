import { createHash, randomBytes } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from 'tar';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import {
  defaultModelCacheDir,
  fetchPretrainedVgg16,
  ModelDownloadError,
  VGG16_ZOO_ARCHIVE,
  type FetchProgress,
  type ModelArchiveSource,
} from '../src/model/fetch.js';

const sha256 = (bytes: Uint8Array): string => createHash('sha256').update(bytes).digest('hex');

let root: string;
let archive: Buffer;
let onnxBytes: Buffer;
let server: Server;
let baseUrl: string;
/** What the next requests get: the whole file, or a connection cut after this many bytes. */
let cutAfter: number | undefined;
let requests: { range: string | undefined }[] = [];

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'strata-fetch-'));
  // A zoo-like archive: vgg16/vgg16.onnx plus test data (random bytes: a model's contents do
  // not matter here, and incompressible data keeps the archive ~1 MB for the resume test).
  const src = join(root, 'src');
  onnxBytes = randomBytes(1 << 20);
  await mkdir(join(src, 'vgg16', 'test_data_set_0'), { recursive: true });
  await writeFile(join(src, 'vgg16', 'vgg16.onnx'), onnxBytes);
  await writeFile(join(src, 'vgg16', 'test_data_set_0', 'input_0.pb'), randomBytes(1000));
  await create({ gzip: true, cwd: src, file: join(root, 'vgg16-7.tar.gz') }, ['vgg16']);
  archive = await readFile(join(root, 'vgg16-7.tar.gz'));

  server = createServer((req, res) => {
    const range = req.headers.range;
    requests.push({ range });
    const match = range ? /^bytes=(\d+)-$/.exec(range) : null;
    const start = match ? Number(match[1]) : 0;
    const body = archive.subarray(start);
    if (match) {
      res.writeHead(206, { 'Content-Length': body.length, 'Content-Range': `bytes ${start}-${archive.length - 1}/${archive.length}` });
    } else {
      res.writeHead(200, { 'Content-Length': body.length });
    }
    if (cutAfter !== undefined) {
      res.write(body.subarray(0, cutAfter));
      setTimeout(() => res.socket?.destroy(), 100);
      return;
    }
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});

afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(root, { recursive: true, force: true });
});

let cacheDir: string;
beforeEach(async () => {
  cacheDir = await mkdtemp(join(root, 'cache-'));
  cutAfter = undefined;
  requests = [];
});

function source(overrides: Partial<ModelArchiveSource> = {}): ModelArchiveSource {
  return { url: `${baseUrl}/media/vgg16-7.tar.gz`, sha256: sha256(archive), size: archive.length, ...overrides };
}

describe('fetchPretrainedVgg16', () => {
  it('downloads, verifies and extracts, then answers from the cache', async () => {
    const progress: FetchProgress[] = [];
    const path = await fetchPretrainedVgg16({ cacheDir, source: source(), onProgress: (p) => progress.push(p) });
    expect(path).toBe(join(cacheDir, 'vgg16-7.onnx'));
    expect(sha256(await readFile(path))).toBe(sha256(onnxBytes));
    const sidecar = JSON.parse(await readFile(`${path}.json`, 'utf8')) as { sha256: string; size: number };
    expect(sidecar).toMatchObject({ sha256: sha256(onnxBytes), size: onnxBytes.length });
    expect(progress.filter((p) => p.phase === 'download').at(-1)).toEqual({ phase: 'download', bytes: archive.length, totalBytes: archive.length });
    // Nothing else is left behind: no archive, no .part, no extraction folder.
    expect((await readdir(cacheDir)).sort()).toEqual(['vgg16-7.onnx', 'vgg16-7.onnx.json']);

    expect(await fetchPretrainedVgg16({ cacheDir, source: source() })).toBe(path);
    expect(requests).toHaveLength(1);
  });

  it('resumes an interrupted download with an HTTP Range request', async () => {
    cutAfter = 400_000;
    const first = fetchPretrainedVgg16({ cacheDir, source: source() });
    await expect(first).rejects.toThrow(ModelDownloadError);
    await expect(first).rejects.toThrow(/the download stopped after \d+ of \d+ bytes .*the next run resumes from it/);
    const part = await readFile(join(cacheDir, 'vgg16-7.tar.gz.part'));
    expect(part.length).toBeGreaterThan(0);
    expect(part.length).toBeLessThan(archive.length);

    cutAfter = undefined;
    const path = await fetchPretrainedVgg16({ cacheDir, source: source() });
    expect(requests.map((r) => r.range)).toEqual([undefined, `bytes=${part.length}-`]);
    expect(sha256(await readFile(path))).toBe(sha256(onnxBytes));
  });

  it('rejects a checksum mismatch and does not keep the bad file', async () => {
    const wrong = source({ sha256: 'f'.repeat(64) });
    const attempt = fetchPretrainedVgg16({ cacheDir, source: wrong });
    await expect(attempt).rejects.toThrow(ModelDownloadError);
    await expect(attempt).rejects.toThrow(`has sha256 ${sha256(archive)}, expected ${'f'.repeat(64)}; it was deleted`);
    expect(await readdir(cacheDir)).toEqual([]);
    // A later run with the right checksum starts over and succeeds.
    expect(existsSync(await fetchPretrainedVgg16({ cacheDir, source: source() }))).toBe(true);
  });

  it('rejects a size mismatch', async () => {
    await expect(fetchPretrainedVgg16({ cacheDir, source: source({ size: archive.length + 10 }) })).rejects.toThrow(
      `the server's file has ${archive.length} bytes, expected ${archive.length + 10}; the partial file was deleted`,
    );
    expect(await readdir(cacheDir)).toEqual([]);
    // The same check applies to an archive placed by hand.
    await writeFile(join(cacheDir, 'vgg16-7.tar.gz'), archive);
    await expect(fetchPretrainedVgg16({ cacheDir, source: source({ size: archive.length + 10 }) })).rejects.toThrow(
      `the existing archive ${join(cacheDir, 'vgg16-7.tar.gz')} has ${archive.length} bytes, expected ${archive.length + 10}; it was deleted`,
    );
    expect(await readdir(cacheDir)).toEqual([]);
  });

  it('says how to install by hand when offline', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((resolve) => closed.close(resolve));
    const offline = source({ url: `http://127.0.0.1:${port}/media/vgg16-7.tar.gz` });

    const error = await fetchPretrainedVgg16({ cacheDir, source: offline }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ModelDownloadError);
    const message = (error as Error).message;
    expect(message).toContain(`could not connect to 127.0.0.1:${port}`);
    expect(message).toContain('ECONNREFUSED');
    expect(message).toContain(`download\n  ${offline.url}\n(${archive.length} bytes, sha256 ${sha256(archive)}) and save it as\n  ${join(cacheDir, 'vgg16-7.tar.gz')}`);
    expect(message).toContain(`save that as\n  ${join(cacheDir, 'vgg16-7.onnx')}\nthen run again.`);
  });

  it('reports an HTTP error status', async () => {
    const missing = source({ url: `${baseUrl.replace('127.0.0.1', 'localhost')}/media/vgg16-7.tar.gz` });
    const fetchImpl: typeof fetch = async () => new Response('gone', { status: 404, statusText: 'Not Found' });
    await expect(fetchPretrainedVgg16({ cacheDir, source: missing, fetchImpl })).rejects.toThrow(/answered HTTP 404 Not Found/);
  });

  it('uses an archive or a model placed by hand', async () => {
    await writeFile(join(cacheDir, 'vgg16-7.tar.gz'), archive);
    const path = await fetchPretrainedVgg16({ cacheDir, source: source() });
    expect(sha256(await readFile(path))).toBe(sha256(onnxBytes));

    const other = await mkdtemp(join(root, 'cache-'));
    await writeFile(join(other, 'vgg16-7.onnx'), onnxBytes);
    expect(await fetchPretrainedVgg16({ cacheDir: other, source: source() })).toBe(join(other, 'vgg16-7.onnx'));
    expect(JSON.parse(await readFile(join(other, 'vgg16-7.onnx.json'), 'utf8'))).toMatchObject({ sha256: sha256(onnxBytes) });
    expect(requests).toHaveLength(0);
  });
});

describe('model cache location', () => {
  it('prefers STRATA_CACHE_DIR, then XDG_CACHE_HOME, then ~/.cache', () => {
    expect(defaultModelCacheDir({ STRATA_CACHE_DIR: '/c', XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/c/models');
    expect(defaultModelCacheDir({ XDG_CACHE_HOME: '/x' }, '/home/u')).toBe('/x/strata/models');
    expect(defaultModelCacheDir({}, '/home/u')).toBe('/home/u/.cache/strata/models');
  });

  it('pins the zoo archive', () => {
    expect(VGG16_ZOO_ARCHIVE.url).toContain('/2a67a85e670e61bf9819e9df6dae3771974552ff/validated/vision/classification/vgg/model/vgg16-7.tar.gz');
    expect(VGG16_ZOO_ARCHIVE.size).toBe(512679010);
  });
});
