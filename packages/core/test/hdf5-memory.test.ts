/**
 * Reads an HDF5 brick several times larger than the memory the reader may use, in a fresh Node
 * process, and checks its peak resident set size (which, unlike --max-old-space-size, counts the
 * WebAssembly heap and typed arrays). The file is made by h5py in a temporary folder and deleted.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runPython } from './python.js';

const N = 2200;
const SIDE = 425;
const BATCH = 32;
/** Peak RSS allowed to the reading process; the file is more than three times as large. */
const MAX_RSS_BYTES = 350 * 1024 * 1024;
const CHECKED_ROWS = [0, 31, 32, 1337, N - 1];

const coreDir = join(dirname(fileURLToPath(import.meta.url)), '..');

/** Writes the brick 100 rows at a time (never the whole array in memory), then hashes it. */
const MAKE_BRICK = `
import h5py, hashlib, json, numpy as np, sys
path, n, side, rows = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), json.loads(sys.argv[4])
base = np.random.default_rng(3).integers(0, 256, (100, side, side, 3), dtype=np.uint8)
with h5py.File(path, 'w') as f:
    ds = f.create_dataset('imgBrick', (n, side, side, 3), dtype=np.uint8)
    for start in range(0, n, 100):
        end = min(n, start + 100)
        ds[start:end] = base[:end - start] + np.uint8(start // 100)
whole = hashlib.sha256()
with h5py.File(path, 'r') as f:
    ds = f['imgBrick']
    for start in range(0, n, 100):
        whole.update(ds[start:start + 100].tobytes())
    picked = {str(i): hashlib.sha256(ds[i].tobytes()).hexdigest() for i in rows}
print(json.dumps({'all': whole.hexdigest(), 'rows': picked}))
`;

/** Runs in the child: reads every batch, hashes the pixels, reports peak RSS. */
const READ_ALL = `
import { createHash } from 'node:crypto';
import { openHdf5Source } from './sources/hdf5.js';
const [path, batch, rows] = [process.argv[2], Number(process.argv[3]), JSON.parse(process.argv[4])];
const started = performance.now();
const source = await openHdf5Source(path);
const rssAfterOpen = process.memoryUsage().rss;
const whole = createHash('sha256');
const picked = {};
for (let start = 0; start < source.size; start += batch) {
  for (const result of await source.readBatch(start, Math.min(source.size, start + batch))) {
    if (!result.ok) throw result.error;
    whole.update(result.image.data);
    if (rows.includes(result.index)) picked[result.index] = createHash('sha256').update(result.image.data).digest('hex');
  }
}
await source.close();
const seconds = (performance.now() - started) / 1000;
console.log(JSON.stringify({ size: source.size, all: whole.digest('hex'), rows: picked, rssAfterOpen, maxRssBytes: process.resourceUsage().maxRSS * 1024, seconds }));
`;

/**
 * Node 20 cannot run TypeScript, so the reader and its imports are transpiled into the temporary
 * folder, next to a node_modules link that resolves 'h5wasm/node'.
 */
function buildChild(dir: string): string {
  for (const file of ['sources/hdf5.ts', 'sources/types.ts', 'image/raw-image.ts']) {
    const source = readFileSync(join(coreDir, 'src', file), 'utf8');
    const { outputText } = ts.transpileModule(source, {
      compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022, verbatimModuleSyntax: true },
    });
    mkdirSync(dirname(join(dir, file)), { recursive: true });
    writeFileSync(join(dir, file.replace(/\.ts$/, '.js')), outputText);
  }
  writeFileSync(join(dir, 'package.json'), '{"type":"module"}\n');
  mkdirSync(join(dir, 'node_modules'));
  const h5wasm = [join(coreDir, 'node_modules', 'h5wasm'), join(coreDir, '..', '..', 'node_modules', 'h5wasm')].find((path) =>
    existsSync(path),
  );
  if (h5wasm === undefined) throw new Error(`h5wasm not found in node_modules above ${coreDir}`);
  symlinkSync(h5wasm, join(dir, 'node_modules', 'h5wasm'), 'dir');
  writeFileSync(join(dir, 'read-all.mjs'), READ_ALL);
  return join(dir, 'read-all.mjs');
}

interface Hashes {
  readonly all: string;
  readonly rows: Record<string, string>;
}

let dir: string;
let brick: string;
let expected: Hashes;

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'strata-hdf5-memory-'));
  brick = join(dir, 'brick.h5');
  expected = JSON.parse(runPython(MAKE_BRICK, [brick, String(N), String(SIDE), JSON.stringify(CHECKED_ROWS)])) as Hashes;
});

afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

describe('openHdf5Source memory', () => {
  it('reads a brick over 3x its memory allowance in batches, equal to h5py, with bounded RSS', () => {
    const fileBytes = statSync(brick).size;
    expect(fileBytes).toBeGreaterThan(3 * MAX_RSS_BYTES);
    const child = buildChild(dir);
    const output = execFileSync(process.execPath, [child, brick, String(BATCH), JSON.stringify(CHECKED_ROWS)], {
      cwd: dir,
      encoding: 'utf8',
    });
    const report = JSON.parse(output) as Hashes & { size: number; rssAfterOpen: number; maxRssBytes: number; seconds: number };
    const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(0)} MiB`;
    console.log(`read ${mib(fileBytes)} in ${report.seconds.toFixed(1)} s; RSS ${mib(report.rssAfterOpen)} ` +
      `after open, peak ${mib(report.maxRssBytes)}`);
    expect(report.size).toBe(N);
    expect(report.rows).toEqual(expected.rows);
    expect(report.all).toBe(expected.all);
    expect(report.maxRssBytes).toBeLessThan(MAX_RSS_BYTES);
  });
});
