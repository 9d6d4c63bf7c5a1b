/**
 * The web app in a real browser (Debian's Chromium through playwright-core; WebGL on
 * SwiftShader), as a lab uses it: `strata serve` on a temporary data folder with a small demo
 * brick under its import root, the built Next app (`next start`) in front of it, and an editor's
 * token. The flow: log in, create the dataset from the brick, start its extraction (pool1, pool5)
 * from the dataset page and watch its progress, the image grid,
 * a t-SNE map computed from the page and drawn as a mosaic (checked in the screenshot's pixels),
 * hover and click with nearest neighbours, the keyboard, pool1 | pool5 side by side with a lasso
 * selection linked across the maps, the layer-similarity heatmap opening a pair, the three
 * exports, a query by an uploaded image, the themes; and frame times of a synthetic 73,000-image
 * map (docs/web.md).
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { demoImages, writeImageBrick } from '@strata/core/sources';
import { CLI, ROOT, strata, tempDir } from './helpers.js';

const CHROMIUM = process.env.STRATA_CHROMIUM ?? '/usr/bin/chromium';
const WEB = join(ROOT, 'apps/web');
const NEXT_BIN = join(ROOT, 'node_modules/next/dist/bin/next');
const COUNT = 24;
const BROWSER_ARGS = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run', '--use-angle=swiftshader', '--enable-unsafe-swiftshader'];
/** Frame-time figures land here (and in the test output) for docs/web.md. */
const FIGURES = process.env.STRATA_WEB_FIGURES;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

/** A child process whose output is kept, waited for until `ready` matches. */
class Service {
  readonly output: string[] = [];
  constructor(readonly name: string, readonly child: ChildProcess) {
    child.stdout?.setEncoding('utf8').on('data', (text: string) => this.output.push(text));
    child.stderr?.setEncoding('utf8').on('data', (text: string) => this.output.push(text));
  }

  waitFor(ready: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = ready.exec(this.output.join(''));
        if (match) {
          clearInterval(timer);
          clearTimeout(deadline);
          resolve(match);
        }
      };
      const timer = setInterval(check, 100);
      const deadline = setTimeout(() => {
        clearInterval(timer);
        reject(new Error(`${this.name} did not start in ${timeoutMs / 1000} s:\n${this.output.join('').slice(-4000)}`));
      }, timeoutMs);
      this.child.once('exit', (code) => {
        clearInterval(timer);
        clearTimeout(deadline);
        reject(new Error(`${this.name} exited (${code}):\n${this.output.join('').slice(-4000)}`));
      });
    });
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 30_000);
    await exited;
    clearTimeout(timer);
  }
}

interface PixelStats {
  /** Distinct colours (5 bits per channel). */
  readonly colours: number;
  /** Share of pixels that differ from the background (the corner pixel) by more than 24. */
  readonly content: number;
  /** Mean HSV saturation, 0..1. */
  readonly saturation: number;
}

async function pixelStats(png: Buffer): Promise<PixelStats> {
  const { data, info } = await sharp(png).removeAlpha().raw().toBuffer({ resolveWithObject: true });
  const colours = new Set<number>();
  const [br, bg, bb] = [data[0] as number, data[1] as number, data[2] as number];
  let content = 0;
  let saturation = 0;
  const pixels = info.width * info.height;
  for (let i = 0; i < pixels; i++) {
    const r = data[3 * i] as number;
    const g = data[3 * i + 1] as number;
    const b = data[3 * i + 2] as number;
    colours.add(((r >> 3) << 10) | ((g >> 3) << 5) | (b >> 3));
    if (Math.abs(r - br) + Math.abs(g - bg) + Math.abs(b - bb) > 24) content += 1;
    const max = Math.max(r, g, b);
    saturation += max === 0 ? 0 : (max - Math.min(r, g, b)) / max;
  }
  return { colours: colours.size, content: content / pixels, saturation: saturation / pixels };
}

let dir: string;
let brick: string;
let datasetId: string;
let api: Service;
let web: Service;
let apiUrl: string;
let webUrl: string;
let token: string;
let browser: Browser;
let page: Page;
const pageErrors: string[] = [];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`no Chromium at ${CHROMIUM}: install Debian's chromium (scripts/install-test-deps.sh) or set STRATA_CHROMIUM`);
  if (!existsSync(join(WEB, '.next', 'BUILD_ID'))) throw new Error('apps/web is not built: run `npx turbo run build` (npm test does)');
  dir = tempDir('web');
  const imports = join(dir, 'imports');
  mkdirSync(imports);
  const model = join(dir, 'synthetic.onnx');
  expect(strata(['model', 'synth', '--seed', '3', '--out', model]).status).toBe(0);
  brick = join(imports, 'stimuli.h5');
  await writeImageBrick(brick, 425, 425, demoImages(COUNT, 2));
  const data = join(dir, 'data');

  const { DATABASE_URL: _ignored, ...base } = process.env;
  const apiEnv = { ...base, STRATA_MODELS: `synth=${model}`, STRATA_IMPORT_ROOTS: imports, STRATA_WORKER_POLL_SECONDS: '0.5', STRATA_WORKER_THREADS: '2' };
  api = new Service('strata serve', spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', data, '--workers', '1'], { env: apiEnv, stdio: ['ignore', 'pipe', 'pipe'] }));
  apiUrl = (await api.waitFor(/listening on (http:\/\/\S+)\/graphql/, 180_000))[1] as string;
  const created = strata(['token', 'create', '--name', 'tester', '--role', 'editor', '--json', '--data', data]);
  expect(created.status, created.stderr).toBe(0);
  token = (JSON.parse(created.stdout) as { token: string }).token;

  const port = await freePort();
  web = new Service('next start', spawn(process.execPath, [NEXT_BIN, 'start', '--port', String(port), '--hostname', '127.0.0.1'], { cwd: WEB, env: { ...base, STRATA_API_URL: apiUrl, NEXT_TELEMETRY_DISABLED: '1' }, stdio: ['ignore', 'pipe', 'pipe'] }));
  await web.waitFor(/Ready in|started server/i, 120_000);
  webUrl = `http://127.0.0.1:${port}`;

  browser = await chromium.launch({ executablePath: CHROMIUM, args: BROWSER_ARGS });
  page = await browser.newPage({ viewport: { width: 1280, height: 860 }, acceptDownloads: true });
  page.setDefaultTimeout(60_000);
  page.on('pageerror', (error) => pageErrors.push(error.message));
});

afterAll(async () => {
  await browser?.close();
  await web?.stop();
  await api?.stop();
});

async function gql<T>(query: string, variables: Record<string, unknown> = {}): Promise<T> {
  const response = await fetch(`${apiUrl}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await response.json()) as { data?: T; errors?: { message: string }[] };
  if (body.errors) throw new Error(body.errors[0]?.message);
  return body.data as T;
}

/** Screenshot of an element's box; also saved under STRATA_WEB_SCREENSHOTS, for a person to look at. */
let shots = 0;
async function shot(selector: string): Promise<Buffer> {
  const folder = process.env.STRATA_WEB_SCREENSHOTS;
  const path = folder ? join(folder, `${String(++shots).padStart(2, '0')}-${selector.replace(/[^a-z0-9-]+/gi, '_')}.png`) : undefined;
  if (folder) await page.screenshot({ path: join(folder, `${String(shots).padStart(2, '0')}-page.png`) });
  return page.locator(selector).screenshot(path ? { path } : {});
}

/** Waits until a pane shows a loaded map (its status line counts the images). */
async function paneLoaded(pane: 'a' | 'b', timeoutMs = 240_000): Promise<void> {
  await page.waitForFunction((id) => /\d+ images/.test(document.querySelector(`[data-testid=status-${id}]`)?.textContent ?? ''), pane, { timeout: timeoutMs });
  // The overview texture streams in; give the first frames time to land.
  await page.waitForFunction(() => !/thumbnails \d+ \/ \d+ sheets/.test(document.querySelector('[data-testid=overview-progress]')?.textContent ?? ''), undefined, { timeout: 60_000 });
  await page.waitForTimeout(800);
}

/** Where point `point` of a pane is on the page (CSS pixels). */
async function pointOnPage(pane: 'a' | 'b', point: number): Promise<{ x: number; y: number }> {
  return page.evaluate(
    ([id, p]) => {
      const renderer = (window as unknown as { __strataRenderer: { getMap(id: string): { x: Float32Array; y: Float32Array }; getViewport(id: string): { toPixel(x: number, y: number): [number, number] } } }).__strataRenderer;
      const data = renderer.getMap(id as string);
      const [px, py] = renderer.getViewport(id as string).toPixel(data.x[p as number] as number, data.y[p as number] as number);
      const box = (document.querySelector(`[data-pane=${id}]`) as HTMLElement).getBoundingClientRect();
      return { x: box.left + px, y: box.top + py };
    },
    [pane, point] as const,
  );
}

describe('the web app', () => {
  it('asks for a token, refuses a wrong one and logs in with a right one', async () => {
    await page.goto(`${webUrl}/datasets`);
    await page.waitForURL(/\/login/);
    await page.fill('#token', 'strata_' + 'x'.repeat(43));
    await page.click('button[type=submit]');
    await expect.poll(() => page.textContent('#login-error')).toMatch(/unknown or revoked/);
    await page.fill('#token', token);
    await page.click('button[type=submit]');
    await page.waitForURL(/\/datasets$/);
    await expect.poll(() => page.textContent('[data-testid=whoami]')).toMatch(/tester · editor/);
  });

  it('creates a dataset from a brick on the server and extracts pool1 and pool5 from its page, showing the progress and then the images', async () => {
    await page.waitForSelector('text=No datasets yet');
    await page.click('[data-testid=new-dataset] summary');
    const form = page.locator('[data-testid=new-dataset] form');
    await form.locator('input[type=text]').first().fill('demo');
    await form.locator('input[aria-label="Path on the server"]').fill(join(dir, 'nowhere.h5'));
    await form.locator('button[type=submit]').click();
    await expect.poll(() => form.locator('[role=alert]').textContent()).toMatch(/no such file or folder/);
    await form.locator('input[aria-label="Path on the server"]').fill(brick);
    await form.locator('label:has-text("Share with the lab") input').check();
    await form.locator('button[type=submit]').click();
    await page.waitForURL(/\/datasets\/\d+$/);
    datasetId = /\/datasets\/(\d+)$/.exec(page.url())?.[1] as string;
    await page.waitForSelector('dl.meta >> text=0 stored of 24');
    await page.waitForSelector('text=No layers extracted yet');

    // pool1 and pool5 are suggested.
    const extraction = page.locator('[data-testid=extraction-form]');
    await expect.poll(() => extraction.locator('input[type=checkbox]:checked').count()).toBe(2);
    await extraction.locator('input[type=number]').nth(0).fill('8');
    await extraction.locator('input[type=number]').nth(1).fill('20');
    await extraction.locator('button[type=submit]').click();
    await expect.poll(() => extraction.locator('[role=status]').textContent()).toMatch(/Extraction job #\d+ started for pool1, pool5/);
    await page.waitForSelector('[data-testid=runs] >> text=extraction');
    const sawProgress = page.waitForSelector('[data-testid=runs] [role=progressbar]', { timeout: 120_000 }).then(
      () => true,
      () => false,
    );
    await page.waitForSelector('[data-testid=layers-table] tr:has-text("pool5") >> text=ready', { timeout: 300_000 });
    await page.waitForSelector('[data-testid=layers-table] tr:has-text("pool1") >> text=ready');
    expect(await sawProgress).toBe(true);
    await page.waitForSelector('[data-testid=runs] >> text=done');
    await page.waitForSelector('dl.meta >> text=24 stored of 24');
    await page.waitForFunction(() => {
      const images = [...document.querySelectorAll<HTMLImageElement>('[data-testid=image-grid] img')];
      return images.length === 24 && images.every((img) => img.complete && img.naturalWidth > 0);
    });
    const grid = await pixelStats(await shot('[data-testid=image-grid]'));
    expect(grid.colours).toBeGreaterThan(300);
  });

  it('computes the pool5 map from the page and draws it as an image mosaic; hover enlarges, click opens the nearest neighbours, keys pan and zoom', async () => {
    await page.click('nav[aria-label=Dataset] >> text=Map');
    await page.waitForURL(/\/map\?layer=pool5/);
    await page.click('[data-testid=compute-map]');
    await paneLoaded('a');
    const stats = await pixelStats(await shot('[data-testid=map-stage]'));
    expect(stats.colours, JSON.stringify(stats)).toBeGreaterThan(400);
    expect(stats.content, JSON.stringify(stats)).toBeGreaterThan(0.05);
    // 24 images fill the view: the sharpest level of detail is on.
    await expect.poll(() => page.textContent('[data-testid=status-a]')).toMatch(/24 images · 128 px thumbnails \(24\/24 sharp\)/);

    const at = await pointOnPage('a', 3);
    await page.mouse.move(at.x, at.y);
    await page.waitForSelector('[data-testid=hover-card] img');
    await page.waitForFunction(() => (document.querySelector<HTMLImageElement>('[data-testid=hover-card] img')?.naturalWidth ?? 0) > 0);
    await page.mouse.click(at.x, at.y);
    await page.waitForSelector('[data-testid=image-panel]');
    await page.waitForFunction(() => document.querySelectorAll('[data-testid=neighbors] button img').length === 12);
    await page.waitForFunction(() => [...document.querySelectorAll<HTMLImageElement>('[data-testid=neighbors] img')].every((img) => img.complete && img.naturalWidth > 0));

    const scale = () => page.evaluate(() => (window as unknown as { __strataRenderer: { getViewport(id: string): { scale: number } } }).__strataRenderer.getViewport('a').scale);
    const before = await scale();
    await page.focus('[data-testid=pane-a]');
    await page.keyboard.press('+');
    await page.keyboard.press('+');
    expect(await scale()).toBeCloseTo(before * 2.25, 6);
    await page.keyboard.press('0');
    expect(await scale()).toBeCloseTo(before, 6);
  });

  it('shows pool1 | pool5 side by side, aligned, and a lasso in one map selects the same images in the other', async () => {
    await page.goto(`${webUrl}/datasets/${datasetId}/compare`);
    await page.waitForURL(/a=pool1&b=pool5/);
    await page.click('[data-pane=a] [data-testid=compute-map]');
    await paneLoaded('a');
    await paneLoaded('b');
    await page.waitForSelector('text=/disparity \\d\\.\\d{3}/');
    const right = '[data-pane=b]';
    const beforeRight = await pixelStats(await shot(right));
    expect((await pixelStats(await shot('[data-pane=a]'))).colours).toBeGreaterThan(300);
    expect(beforeRight.colours).toBeGreaterThan(300);

    // Lasso the left half of the left map (clear of the layer picker and the status line).
    const box = (await page.locator('[data-pane=a]').boundingBox()) as { x: number; y: number; width: number; height: number };
    await page.click('button:has-text("Lasso select")');
    const corners: [number, number][] = [
      [box.x + 4, box.y + 60],
      [box.x + box.width / 2, box.y + 60],
      [box.x + box.width / 2, box.y + box.height - 40],
      [box.x + 4, box.y + box.height - 40],
    ];
    const [start] = corners as [[number, number]];
    await page.mouse.move(...start);
    await page.mouse.down();
    for (const [x, y] of [...corners.slice(1), start]) await page.mouse.move(x, y, { steps: 8 });
    await page.mouse.up();
    await expect.poll(() => page.textContent('[data-testid=selection-count]')).toMatch(/\d+ selected/);
    const count = Number((await page.textContent('[data-testid=selection-count]'))?.match(/(\d+) selected/)?.[1]);
    expect(count).toBeGreaterThan(0);
    expect(count).toBeLessThan(24);
    // The same images are selected in the right map: its status counts them, and the rest are greyed.
    await expect.poll(() => page.textContent('[data-testid=status-b]')).toContain(`${count} selected here`);
    await page.waitForTimeout(500);
    const afterRight = await pixelStats(await shot(right));
    expect(afterRight.saturation).toBeLessThan(beforeRight.saturation * 0.9);
    await page.click('button:has-text("Clear selection")');
    await expect.poll(() => page.textContent('[data-testid=selection-count]')).toBe('nothing selected');
  });

  it('draws the layer-similarity heatmap, whose cells open that pair side by side', async () => {
    await page.click('[data-testid=heatmap] button:has-text("Compute")');
    await page.waitForSelector('[data-testid=heatmap] button.cell', { timeout: 240_000 });
    expect(await page.locator('[data-testid=heatmap] button.cell').count()).toBe(4);
    const diagonal = await page.getAttribute('[data-testid=heatmap] [data-cell="0-0"]', 'aria-label');
    expect(diagonal).toMatch(/pool1 vs pool1: CKA 1\.000/);
    await page.click('[data-testid=heatmap] [aria-label^="pool5 vs pool1"]');
    await expect.poll(() => page.inputValue('[data-testid=layer-a]')).toBe('pool5');
    await expect.poll(() => page.inputValue('[data-testid=layer-b]')).toBe('pool1');
    await page.waitForURL(/a=pool5&b=pool1/);
    await paneLoaded('a');
    await paneLoaded('b');
  });

  it('exports the view as PNG, the 4000 x 3000 mosaic and the coordinates as CSV', async () => {
    await page.goto(`${webUrl}/datasets/${datasetId}/map?layer=pool5`);
    await paneLoaded('a');
    await page.click('summary:has-text("Export")');
    const [png] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-png-a]')]);
    const view = await sharp(readFileSync(await png.path())).metadata();
    const pane = (await page.locator('[data-pane=a]').boundingBox()) as { width: number; height: number };
    expect([view.format, view.width, view.height]).toEqual(['png', Math.round(pane.width), Math.round(pane.height)]);
    expect((await pixelStats(readFileSync(await png.path()))).colours).toBeGreaterThan(300);

    const [csv] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-csv-a]')]);
    const lines = readFileSync(await csv.path(), 'utf8').trim().split('\n');
    expect(lines[0]).toBe('image_id,source_index,source_id,tsne_x,tsne_y,view_x,view_y');
    expect(lines).toHaveLength(COUNT + 1);
    const { tsneMap } = await gql<{ tsneMap: { columns: { imageIds: number[]; x: number[] } } }>('query($d: ID!) { tsneMap(datasetId: $d, layer: "pool5", perplexity: 7) { columns { imageIds x } } }', { d: datasetId });
    const first = lines[1]?.split(',') ?? [];
    expect(Number(first[0])).toBe(tsneMap.columns.imageIds[0]);
    expect(Number(first[3])).toBeCloseTo(tsneMap.columns.x[0] as number, 4);

    const [mosaic] = await Promise.all([page.waitForEvent('download'), page.click('[data-testid=export-mosaic-a]')]);
    const picture = await sharp(readFileSync(await mosaic.path())).metadata();
    expect([picture.format, picture.width, picture.height]).toEqual(['png', 4000, 3000]);
  });

  it('queries by an uploaded image: it finds itself first in every layer', async () => {
    const { images } = await gql<{ images: { items: { id: string; index: number }[] } }>('query($d: ID!) { images(datasetId: $d, offset: 5, limit: 1) { items { id index } } }', { d: datasetId });
    const image = images.items[0] as { id: string; index: number };
    const response = await fetch(`${apiUrl}/files/images/${image.id}`, { headers: { authorization: `Bearer ${token}` } });
    const file = join(dir, 'query.png');
    writeFileSync(file, Buffer.from(await response.arrayBuffer()));
    await page.goto(`${webUrl}/datasets/${datasetId}/similar`);
    await page.waitForSelector('fieldset >> text=pool5');
    await page.setInputFiles('[data-testid=query-file]', file);
    await page.waitForFunction(() => {
      const rows = [...document.querySelectorAll('[data-testid=similar-results] [data-layer]')];
      return rows.length === 2 && rows.every((row) => row.getAttribute('data-state') === 'done');
    }, undefined, { timeout: 180_000 });
    for (const layer of ['pool1', 'pool5']) {
      const row = page.locator(`[data-layer=${layer}]`);
      expect(await row.locator('img').count()).toBe(8);
      expect(await row.locator('img').first().getAttribute('alt')).toContain(`image ${image.index} `);
      expect(Number(await row.locator('figcaption').first().textContent())).toBeLessThan(1e-3);
    }
  });

  it('follows the system theme and switches with the toggle; no layout jumps while loading', async () => {
    await page.emulateMedia({ colorScheme: 'dark' });
    await page.goto(`${webUrl}/datasets`);
    const background = () => page.evaluate(() => getComputedStyle(document.body).backgroundColor);
    await expect.poll(background).toBe('rgb(18, 18, 18)');
    await page.click('[data-testid=theme-toggle]');
    await expect.poll(() => page.getAttribute('html', 'data-theme')).toBe('light');
    await expect.poll(background).toBe('rgb(246, 245, 243)');
    await page.reload();
    await expect.poll(background).toBe('rgb(246, 245, 243)');
    // Cumulative layout shift of the dataset page while its data arrives.
    await page.goto(`${webUrl}/datasets/${datasetId}`);
    await page.waitForSelector('[data-testid=image-grid] img');
    await page.waitForTimeout(1000);
    const shift = await page.evaluate(
      () =>
        new Promise<number>((resolve) => {
          let total = 0;
          new PerformanceObserver((list) => {
            for (const entry of list.getEntries() as (PerformanceEntry & { value: number; hadRecentInput: boolean })[]) if (!entry.hadRecentInput) total += entry.value;
          }).observe({ type: 'layout-shift', buffered: true });
          setTimeout(() => resolve(total), 300);
        }),
    );
    expect(shift).toBeLessThan(0.1);
    await page.click('[data-testid=theme-toggle]');
    await page.click('[data-testid=theme-toggle]');
    await page.emulateMedia({ colorScheme: 'light' });
  });

  it('draws a synthetic 73,000-image map and measures its frame times', async () => {
    const bench = await browser.newPage({ viewport: { width: 1280, height: 860 } });
    bench.on('pageerror', (error) => pageErrors.push(error.message));
    await bench.goto(`${webUrl}/bench?n=73000&frames=${process.env.STRATA_WEB_BENCH_FRAMES ?? '4'}`);
    await bench.waitForFunction(() => (window as unknown as { __strataBench?: { state: string } }).__strataBench?.state === 'ready', undefined, { timeout: 300_000 });
    const results = (await bench.evaluate(() => (window as unknown as { __strataBench: { run(): Promise<unknown> } }).__strataBench.run())) as {
      points: number;
      render: Record<string, { medianMs: number }>;
      animation: { medianMs: number };
    };
    console.log(`web viewer frame times (73,000 images): ${JSON.stringify(results, null, 2)}`);
    if (FIGURES) writeFileSync(FIGURES, `${JSON.stringify(results, null, 2)}\n`);
    expect(results.points).toBe(73_000);
    for (const scenario of Object.values(results.render)) expect(scenario.medianMs).toBeGreaterThan(0);
    const stats = await pixelStats(await bench.locator('[data-testid=map-stage]').screenshot());
    expect(stats.colours).toBeGreaterThan(300);
    expect(stats.content).toBeGreaterThan(0.05);
    await bench.close();
  });

  it('threw no uncaught errors in the pages', () => {
    expect(pageErrors).toEqual([]);
  });
});
