/**
 * A short run of the load benchmark (bench/load/run.mjs): the same topology and query mix on a
 * small dataset — `strata serve` with a worker in its own process (on the Postgres server of
 * STRATA_TEST_DATABASE_URL, else its embedded database), 1,000 images with two stored layers and
 * a t-SNE map of each computed by the worker, then 32 concurrent clients for 5 s sending
 * nearestNeighbors, images and tsneMap over HTTP. Every answer is checked against what was
 * stored (neighbour distances recomputed, pages and map points compared); none may fail.
 */
import { rmSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runningEmbeddedDatabase } from '@strata/api';
import { createScratchDatabase, type ScratchDatabase } from '@strata/core/store';
import { computeMaps, prepareDataset, runLoad, startServe, type Fixture, type MapColumns, type Serve } from '../bench/load/harness.mjs';
import { tempDir } from './helpers.js';

const serverUrl = process.env.STRATA_TEST_DATABASE_URL;
const backend = serverUrl ? 'a Postgres server' : 'the embedded database';

let dir: string;
let scratch: ScratchDatabase | undefined;
let serve: Serve | undefined;
let fixture: Fixture;
let maps: Record<string, MapColumns>;

beforeAll(async () => {
  dir = tempDir('load-smoke');
  scratch = serverUrl ? await createScratchDatabase(serverUrl, 'strata_test_load') : undefined;
  serve = await startServe({ dataDir: dir, ...(scratch ? { databaseUrl: scratch.url } : {}), workers: 1, workerThreads: 2 });
  // The dataset goes in through the database strata serve uses (its embedded one: over its socket).
  const databaseUrl = scratch?.url ?? runningEmbeddedDatabase(dir)?.url;
  if (!databaseUrl) throw new Error(`strata serve runs no embedded database for ${dir}`);
  fixture = await prepareDataset({ databaseUrl, dataDir: dir, count: 1000, dimension: 32 });
  maps = await computeMaps(serve.url, fixture, { iterations: 250, timeoutMs: 60_000 });
}, 60_000);

afterAll(async () => {
  await serve?.stop();
  await scratch?.drop();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

describe(`the API under load (${backend})`, () => {
  it('answers 32 concurrent clients for 5 s with no errors and only correct answers', async () => {
    const result = await runLoad({ url: (serve as Serve).url, token: fixture.viewerToken, fixture, maps, connections: 32, durationS: 5 });
    const summary = Object.entries(result.kinds).map(([kind, k]) => `${kind} ${k.requests} (p50 ${k.p50Ms.toFixed(0)} ms, p99 ${k.p99Ms.toFixed(0)} ms)`);
    console.log(`load smoke on ${backend}: ${result.ok} answers in ${result.elapsedS.toFixed(1)} s (${result.perSecond.toFixed(0)}/s): ${summary.join(', ')}`);
    expect(result.failures).toEqual([]);
    expect(result.errors).toBe(0);
    expect(result.wrong).toBe(0);
    expect(result.ok).toBe(result.requests);
    // Every kind of query was sent and answered.
    for (const kind of Object.values(result.kinds)) expect(kind.requests).toBeGreaterThan(10);
  }, 30_000);
});
