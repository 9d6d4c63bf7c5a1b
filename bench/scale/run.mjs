#!/usr/bin/env node
// Strata at the Natural Scenes Dataset's size on synthetic features: 73,000 images (64 x 64
// synthetic pictures in an HDF5 brick, so mosaics and atlases have pixels to draw), two layers
// (pool1 clustered by colour, pool5 by shape; 256-d vectors shaped like PCA output, see
// synthetic.mjs), through every step a lab runs after extraction:
//
//   images   write the brick (kept in ~/.cache/strata/bench-scale between runs)
//   ingest   dataset, image rows and both layers' vectors into the store
//   index    a cosine HNSW index per layer
//   query    nearestNeighbors (k = 10) of 200 images per layer: latency, recall@10 against exact
//   tsne     the t-SNE map of each layer (perplexity 30, 1000 iterations)
//   mosaic   the 4000 x 3000 mosaic of the pool5 map
//   atlas    the dataset's thumbnail atlas for the web viewer
//   web      the pool5 map in the web app: `strata serve` + `next start` + headless Chromium
//            (SwiftShader), time until the map and its overview are on screen, frame times
//
// Each step but `web` runs in a process of its own, so the peak RSS reported is that step's;
// while a step runs on the Postgres server the server's memory (PSS of all its processes) is
// sampled too. Prints a table; --json writes the figures.
//
//   node bench/scale/run.mjs [--count 73000] [--dimension 256] [--size 64] [--backends postgres,pglite]
//                            [--steps images,ingest,index,query,tsne,mosaic,atlas,web] [--frames 8] [--json FILE]
//
// The Postgres server is STRATA_BENCH_DATABASE_URL, else scripts/postgres-server.sh's (started
// if needed and left running); the run uses a fresh database, dropped afterwards. PGlite runs
// ingest, index and query only (maps, pictures and the web app use the first backend).
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { cpus, homedir, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { chromium } from 'playwright-core';
import { createApiToken, createScratchDatabase, openStore } from '@strata/core/store';
import { postgresServerUrl, startServe, stopChild, treeRss } from '../load/harness.mjs';

const ROOT = resolve(import.meta.dirname, '../..');
const STEP = join(import.meta.dirname, 'step.mjs');
const ALL_STEPS = ['images', 'ingest', 'index', 'query', 'tsne', 'mosaic', 'atlas', 'web'];
const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '73000' },
    dimension: { type: 'string', default: '256' },
    size: { type: 'string', default: '64' },
    seed: { type: 'string', default: '1' },
    backends: { type: 'string', default: 'postgres' },
    steps: { type: 'string', default: ALL_STEPS.join(',') },
    frames: { type: 'string', default: '8' },
    brick: { type: 'string' },
    json: { type: 'string' },
  },
});
const count = Number(values.count);
const size = Number(values.size);
const seed = Number(values.seed);
const steps = values.steps.split(',');
for (const step of steps) if (!ALL_STEPS.includes(step)) throw new RangeError(`unknown step "${step}"; expected some of ${ALL_STEPS.join(', ')}`);
const cacheDir = join(process.env.XDG_CACHE_HOME ?? join(homedir(), '.cache'), 'strata', 'bench-scale');
mkdirSync(cacheDir, { recursive: true });
const brick = values.brick ?? join(cacheDir, `nsd-synthetic-${count}-${size}px-seed${seed}.h5`);
const uptime = () => execFileSync('uptime', { encoding: 'utf8' }).trim();
const log = (line) => console.log(`[${new Date().toISOString().slice(11, 19)}] ${line}`);
const mib = (bytes) => bytes / 2 ** 20;

/** Proportional memory of every postgres process (the server is shared: other databases count too). */
function postgresPss() {
  let total = 0;
  for (const pid of readdirSync('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    try {
      if (readFileSync(`/proc/${pid}/comm`, 'utf8').trim() !== 'postgres') continue;
      total += Number(/^Pss:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8'))?.[1] ?? 0) * 1024;
    } catch {
      // gone, or not ours to read
    }
  }
  return total;
}

/** Runs one step in its own process; samples the Postgres server meanwhile. */
function runStep(step, config, { sampleServer }) {
  return new Promise((done, reject) => {
    const child = spawn(process.execPath, [STEP, step, JSON.stringify(config)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.setEncoding('utf8').on('data', (text) => (out += text));
    child.stderr.setEncoding('utf8').on('data', (text) => (err += text));
    let serverPeak = 0;
    let loadPeak = 0;
    const sample = () => {
      if (sampleServer) serverPeak = Math.max(serverPeak, postgresPss());
      loadPeak = Math.max(loadPeak, loadavg()[0]);
    };
    sample();
    const timer = setInterval(sample, 1000);
    child.once('exit', (code) => {
      clearInterval(timer);
      const line = out.split('\n').find((text) => text.startsWith('RESULT '));
      if (code !== 0 || !line) return reject(new Error(`step ${step} failed (exit ${code}):\n${err.slice(-4000)}${out.slice(-2000)}`));
      done({ ...JSON.parse(line.slice(7)), serverPssPeakMiB: sampleServer ? mib(serverPeak) : null, loadPeak });
    });
  });
}

/** Chromium processes this one started (playwright's launch hands out no process). */
function browserPids() {
  const pids = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      const comm = stat.slice(stat.indexOf('(') + 1, stat.lastIndexOf(')'));
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid && /chrom/i.test(comm)) pids.push(Number(entry));
    } catch {
      // exited meanwhile
    }
  }
  return pids;
}

function freePort() {
  return new Promise((done, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => done(port));
    });
  });
}

/** A child process whose output is kept, waited for until `ready` matches. */
function startProcess(name, command, args, options, ready, timeoutMs) {
  const child = spawn(command, args, { ...options, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout.setEncoding('utf8').on('data', (text) => (output += text));
  child.stderr.setEncoding('utf8').on('data', (text) => (output += text));
  const started = new Promise((done, reject) => {
    const timer = setInterval(() => {
      if (ready.test(output)) {
        clearInterval(timer);
        clearTimeout(deadline);
        done();
      }
    }, 100);
    const deadline = setTimeout(() => {
      clearInterval(timer);
      reject(new Error(`${name} did not start in ${timeoutMs / 1000} s:\n${output.slice(-4000)}`));
    }, timeoutMs);
    child.once('exit', (code) => {
      clearInterval(timer);
      clearTimeout(deadline);
      reject(new Error(`${name} exited (${code}):\n${output.slice(-4000)}`));
    });
  });
  return { child, started, stop: () => stopChild(child) };
}

/**
 * The pool5 map in the web app as a user opens it: log in with a token, open the dataset's map
 * page, wait for the points (tsneMap columns) and the overview thumbnails, then time frames
 * (the page's own renderer: commit, draw calls, GPU finish) for the whole map panning and for a
 * close-up of 128 px thumbnails.
 */
async function webStep(config, frames) {
  const chromiumPath = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';
  if (!existsSync(chromiumPath)) throw new Error(`no Chromium at ${chromiumPath} (scripts/install-test-deps.sh installs it; or set STRATA_CHROMIUM)`);
  if (!existsSync(join(ROOT, 'apps/web/.next/BUILD_ID'))) throw new Error('apps/web is not built: npx turbo run build --filter=@strata/web');
  const store = await openStore({ dataDir: config.dataDir, ...(config.databaseUrl ? { databaseUrl: config.databaseUrl } : {}) });
  let token;
  let datasetId;
  try {
    ({ token } = await createApiToken(store, { user: 'bench', role: 'viewer' }));
    datasetId = (await store.getDataset(config.name)).id;
  } finally {
    await store.close();
  }
  const serve = await startServe({ dataDir: config.dataDir, databaseUrl: config.databaseUrl, workers: 0 });
  const port = await freePort();
  const { DATABASE_URL: _ignored, ...base } = process.env;
  const next = startProcess('next start', process.execPath, [join(ROOT, 'node_modules/next/dist/bin/next'), 'start', '--port', String(port), '--hostname', '127.0.0.1'], { cwd: join(ROOT, 'apps/web'), env: { ...base, STRATA_API_URL: serve.url, NEXT_TELEMETRY_DISABLED: '1' } }, /Ready in|started server/i, 120_000);
  let browser;
  const peaks = { serve: 0, next: 0, browser: 0 };
  let loadPeak = 0;
  const sampler = setInterval(() => {
    peaks.serve = Math.max(peaks.serve, treeRss(serve.pid));
    peaks.next = Math.max(peaks.next, treeRss(next.child.pid));
    if (browser) peaks.browser = Math.max(peaks.browser, browserPids().reduce((sum, pid) => sum + treeRss(pid), 0));
    loadPeak = Math.max(loadPeak, loadavg()[0]);
  }, 500);
  try {
    await next.started;
    const webUrl = `http://127.0.0.1:${port}`;
    browser = await chromium.launch({
      executablePath: chromiumPath,
      args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'],
    });
    const page = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    page.setDefaultTimeout(600_000);
    const pageErrors = [];
    page.on('pageerror', (error) => pageErrors.push(error.message));
    await page.goto(`${webUrl}/datasets`);
    await page.waitForURL(/\/login/);
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/datasets$/);

    const opened = performance.now();
    await page.goto(`${webUrl}/datasets/${datasetId}/map?layer=pool5`);
    await page.waitForFunction(() => /\d+ images/.test(document.querySelector('[data-testid=status-a]')?.textContent ?? ''));
    const pointsS = (performance.now() - opened) / 1000;
    await page.waitForFunction(() => {
      const renderer = window.__strataRenderer;
      const progress = renderer?.overviewProgress();
      return !!progress && progress.total > 0 && progress.loaded >= progress.total;
    });
    const overviewS = (performance.now() - opened) / 1000;
    const status = await page.textContent('[data-testid=status-a]');

    const measure = (scenario) =>
      page.evaluate(
        ([scenario, frames]) => {
          const renderer = window.__strataRenderer;
          renderer.fit('a');
          const fitted = renderer.getViewport('a');
          const totals = [];
          const gpu = [];
          const views = [];
          if (scenario === 'whole') for (let i = 0; i < frames; i++) views.push(fitted.panBy(Math.sin(i / 6) * 40, Math.cos(i / 6) * 30));
          else {
            const factor = 160 / renderer.tileSize('a') / fitted.scale;
            const close = fitted.zoomAt(fitted.props().width / 2, fitted.props().height / 2, factor);
            for (let i = 0; i < frames; i++) views.push(close.panBy(i * 6, i * 3));
          }
          for (const view of views) {
            renderer.setViewport('a', view);
            const frame = renderer.renderNow();
            totals.push(frame.totalMs);
            gpu.push(frame.gpuMs);
          }
          const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)];
          return { frames, medianMs: median(totals), maxMs: Math.max(...totals), gpuMedianMs: median(gpu) };
        },
        [scenario, frames],
      );
    const whole = await measure('whole');
    // Zoom in, let the 128 px thumbnails arrive, then time the close-up.
    await page.evaluate(() => {
      const renderer = window.__strataRenderer;
      renderer.fit('a');
      const fitted = renderer.getViewport('a');
      renderer.setViewport('a', fitted.zoomAt(fitted.props().width / 2, fitted.props().height / 2, 160 / renderer.tileSize('a') / fitted.scale));
    });
    const zoomed = performance.now();
    await page
      .waitForFunction(() => {
        const match = /\((\d+)\/(\d+) sharp\)/.exec(document.querySelector('[data-testid=status-a]')?.textContent ?? '');
        return !!match && match[1] === match[2] && Number(match[2]) > 0;
      }, undefined, { timeout: 120_000 })
      .catch(() => undefined);
    const sharpS = (performance.now() - zoomed) / 1000;
    const closeStatus = await page.textContent('[data-testid=status-a]');
    const close = await measure('close');
    const renderer = await page.evaluate(() => {
      const gl = document.querySelector('[data-testid=map-stage] canvas')?.getContext('webgl2');
      const debug = gl?.getExtension('WEBGL_debug_renderer_info');
      return debug ? String(gl.getParameter(debug.UNMASKED_RENDERER_WEBGL)) : 'unknown';
    });
    if (pageErrors.length) throw new Error(`the page threw: ${pageErrors.join('; ')}`);
    return { pointsS, overviewS, status, whole, sharpS, closeStatus, close, renderer, rssPeakMiB: { serve: mib(peaks.serve), next: mib(peaks.next), browser: mib(peaks.browser) }, loadPeak };
  } finally {
    clearInterval(sampler);
    await browser?.close();
    await next.stop();
    await serve.stop();
  }
}

const results = [];
const machine = { cores: cpus().length, cpu: cpus()[0]?.model ?? '?', uptimeBefore: uptime() };
log(`${count.toLocaleString('en')} images (${size} x ${size}), ${values.dimension}-d, backends ${values.backends}; ${machine.cores} cores (${machine.cpu}); ${machine.uptimeBefore}`);
const base = { count, dimension: Number(values.dimension), size, seed, brick, name: 'nsd-synthetic' };

if (steps.includes('images')) {
  const r = await runStep('images', base, { sampleServer: false });
  results.push({ backend: '', ...r });
  log(`images: ${r.reused ? 'reused' : 'written'} ${brick} in ${r.wallS.toFixed(1)} s`);
}

const cleanups = [];
try {
  for (const [b, backend] of values.backends.split(',').entries()) {
    const dataDir = mkdtempSync(join(tmpdir(), `strata-bench-scale-${backend}-`));
    cleanups.push(() => rmSync(dataDir, { recursive: true, force: true }));
    let databaseUrl;
    if (backend === 'postgres') {
      const scratch = await createScratchDatabase(postgresServerUrl(), 'strata_bench_scale');
      cleanups.push(() => scratch.drop());
      databaseUrl = scratch.url;
    } else if (backend !== 'pglite') throw new RangeError(`unknown backend "${backend}"; expected postgres or pglite`);
    const config = { ...base, dataDir, ...(databaseUrl ? { databaseUrl } : {}) };
    const sampleServer = backend === 'postgres';
    const perBackend = b === 0 ? steps : steps.filter((step) => ['ingest', 'index', 'query'].includes(step));
    for (const step of perBackend) {
      if (step === 'images') continue;
      if (step === 'tsne') {
        for (const layer of ['pool5', 'pool1']) {
          const r = await runStep('tsne', { ...config, layer }, { sampleServer });
          results.push({ backend, ...r, layer });
          log(`${backend} t-SNE ${layer}: ${r.wallS.toFixed(1)} s (${r.method}, KL ${r.klDivergence?.toFixed(3)}), peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
        }
      } else if (step === 'mosaic') {
        const r = await runStep('mosaic', { ...config, layer: 'pool5' }, { sampleServer });
        results.push({ backend, ...r, layer: 'pool5' });
        log(`${backend} mosaic pool5: ${r.wallS.toFixed(1)} s, ${r.placed} placed, peak RSS ${r.peakRssMiB.toFixed(0)} MiB`);
      } else if (step === 'web') {
        const started = performance.now();
        const r = await webStep(config, Number(values.frames));
        results.push({ step: 'web', backend, ...r, wallS: (performance.now() - started) / 1000 });
        log(`${backend} web: points on screen ${r.pointsS.toFixed(1)} s, overview ${r.overviewS.toFixed(1)} s, whole-map frame ${r.whole.medianMs.toFixed(0)} ms, close-up ${r.close.medianMs.toFixed(0)} ms (${r.renderer})`);
      } else {
        const r = await runStep(step, config, { sampleServer });
        results.push({ backend, ...r });
        log(`${backend} ${step}: ${r.wallS.toFixed(1)} s, peak RSS ${r.peakRssMiB.toFixed(0)} MiB${r.serverPssPeakMiB ? `, server PSS ${r.serverPssPeakMiB.toFixed(0)} MiB` : ''}`);
      }
    }
  }
} finally {
  for (const cleanup of cleanups.reverse()) await cleanup();
}
machine.uptimeAfter = uptime();

const fmt = (v, digits = 1) => (v === null || v === undefined || Number.isNaN(v) ? '' : v.toFixed(digits));
console.log(`\n${count.toLocaleString('en')} images, ${values.dimension}-d, ${machine.cores} cores; before: ${machine.uptimeBefore}; after: ${machine.uptimeAfter}\n`);
console.log('| step | backend | wall | peak RSS (step) | server PSS peak | load peak | what |\n| --- | --- | --- | --- | --- | --- | --- |');
for (const r of results) {
  let what = '';
  switch (r.step) {
    case 'images':
      what = r.reused ? 'brick reused from an earlier run' : `${count.toLocaleString('en')} images written`;
      break;
    case 'ingest':
      what = `2 x ${count.toLocaleString('en')} vectors, ${fmt(r.vectorsPerSecond, 0)} vectors/s (image rows ${fmt(r.rowsS)} s)`;
      break;
    case 'index':
      what = Object.entries(r.seconds).map(([layer, s]) => `${layer} ${fmt(s)} s`).join(', ');
      break;
    case 'query':
      what = Object.entries(r).filter(([, v]) => v && typeof v === 'object' && 'recall' in v).map(([layer, q]) => `${layer}: p50 ${fmt(q.p50Ms)} ms, p95 ${fmt(q.p95Ms)} ms, recall@10 ${q.recall.toFixed(4)} (${q.fallbacks} exact fallbacks)`).join('; ');
      break;
    case 'tsne':
      what = `${r.layer}: ${r.method}, KL ${fmt(r.klDivergence, 3)}`;
      break;
    case 'mosaic':
      what = `${r.layer}, ${r.width} x ${r.height}, ${r.placed} placed`;
      break;
    case 'atlas':
      what = `${r.sheets} sheets (${Object.entries(r.sheetsBySize).map(([s, n]) => `${n} x ${s} px`).join(', ')})`;
      break;
    case 'web':
      what = `points ${fmt(r.pointsS)} s, overview ${fmt(r.overviewS)} s; frame median: whole map ${fmt(r.whole.medianMs, 0)} ms, close-up ${fmt(r.close.medianMs, 0)} ms; RSS serve ${fmt(r.rssPeakMiB.serve, 0)} / next ${fmt(r.rssPeakMiB.next, 0)} / Chromium ${fmt(r.rssPeakMiB.browser, 0)} MiB`;
      break;
    default:
      what = '';
  }
  const rss = r.step === 'web' ? '' : `${fmt(r.peakRssMiB, 0)} MiB`;
  console.log(`| ${r.step}${r.layer && r.step === 'tsne' ? ` ${r.layer}` : ''} | ${r.backend} | ${fmt(r.wallS)} s | ${rss} | ${r.serverPssPeakMiB ? `${fmt(r.serverPssPeakMiB, 0)} MiB` : ''} | ${fmt(r.loadPeak, 1)} | ${what} |`);
}
if (values.json) writeFileSync(values.json, `${JSON.stringify({ machine, count, dimension: Number(values.dimension), size, results }, null, 2)}\n`);
