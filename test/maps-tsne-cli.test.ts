/**
 * `strata tsne` as a user runs it (the built CLI): the map the library computes for the same
 * seed, bit for bit, with progress and the KL on stderr; Ctrl-C stops it and writes nothing;
 * one-line errors for bad input.
 */
import { spawn } from 'node:child_process';
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { encodeNpy, readNpyMatrix } from '@strata/core/npy';
import { tsne } from '@strata/core/tsne';
import { CLI, python, strata, tempDir } from './helpers.js';

let dir: string;

/** n points in `dim` dimensions around `clusters` centres (mulberry32 + Box-Muller, seeded). */
function clustered(n: number, dim: number, clusters: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const next = (): number => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  const normal = (): number => Math.sqrt(-2 * Math.log(1 - next())) * Math.cos(2 * Math.PI * next());
  const centres = Float64Array.from({ length: clusters * dim }, () => 4 * normal());
  const x = new Float32Array(n * dim);
  for (let i = 0; i < n; i++) for (let d = 0; d < dim; d++) x[i * dim + d] = (centres[(i % clusters) * dim + d] as number) + normal();
  return x;
}

function writeMatrix(name: string, data: Float32Array, rows: number, columns: number): string {
  const path = join(dir, name);
  writeFileSync(path, encodeNpy(data, [rows, columns]));
  return path;
}

beforeAll(() => {
  dir = tempDir('tsne-cli');
});

describe('strata tsne', () => {
  it('writes the N x 2 map the library computes for the same seed, reporting the KL', async () => {
    const n = 2000;
    const dim = 16;
    const x = clustered(n, dim, 10, 3);
    const input = writeMatrix('x.npy', x, n, dim);
    const out = join(dir, 'y.npy');
    const run = strata(['tsne', '--in', input, '--out', out, '--seed', '7', '--perplexity', '20', '--iterations', '400', '--threads', '2']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/y\.npy: 2000 x 2 \(from 2000 x 16\), KL \d+\.\d{4} after 400 steps \(bh 400; exact neighbours\) in [\d.]+ s/);
    expect(run.stderr).toMatch(/^tsne: finding nearest neighbours$/m);
    expect(run.stderr).toMatch(/tsne: 400\/400 it \(100\.0%\), .*embedding, KL \d+\.\d{4}/);
    const y = readNpyMatrix(out);
    expect([y.rows, y.columns]).toEqual([n, 2]);
    // The library on one thread: threads never change the map.
    const direct = await tsne(x, n, dim, { seed: 7, perplexity: 20, iterations: 400, threads: 1 });
    expect(Buffer.from(y.data.buffer).equals(Buffer.from(direct.embedding.buffer))).toBe(true);
    expect(run.stdout).toContain(`KL ${direct.klDivergence.toFixed(4)}`);
    // NumPy reads it as float32 (N, 2).
    expect(python(['-c', 'import sys, numpy as np; y = np.load(sys.argv[1]); print(y.dtype, y.shape)', out]).trim()).toBe('float32 (2000, 2)');
    // Another seed, another map.
    const other = strata(['tsne', '--in', input, '--out', join(dir, 'y8.npy'), '--seed', '8', '--perplexity', '20', '--iterations', '400']);
    expect(other.status, other.stderr).toBe(0);
    expect(Buffer.from(readNpyMatrix(join(dir, 'y8.npy')).data.buffer).equals(Buffer.from(y.data.buffer))).toBe(false);
  });

  it('stops on Ctrl-C without writing the output', async () => {
    const n = 6000;
    const dim = 16;
    const input = writeMatrix('big.npy', clustered(n, dim, 20, 4), n, dim);
    const out = join(dir, 'interrupted.npy');
    const child = spawn(process.execPath, [CLI, 'tsne', '--in', input, '--out', out], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    let signalled = 0;
    const finished = new Promise<{ code: number | null; ms: number }>((resolve) => {
      child.stderr.on('data', (chunk: Buffer) => {
        stderr += chunk.toString();
        if (signalled === 0 && /tsne: gradient descent/.test(stderr)) {
          signalled = Date.now();
          child.kill('SIGINT');
        }
      });
      child.on('close', (code) => resolve({ code, ms: Date.now() - signalled }));
    });
    const { code, ms } = await finished;
    expect(signalled, stderr).toBeGreaterThan(0);
    expect(code, stderr).toBe(1);
    expect(stderr).toMatch(/^strata: interrupted; .*interrupted\.npy not written$/m);
    expect(ms).toBeLessThan(10_000);
    expect(existsSync(out)).toBe(false);
    expect(readdirSync(dir).filter((name) => name.startsWith('interrupted'))).toEqual([]);
  });

  it('refuses bad input with one clear line', () => {
    const x = clustered(40, 6, 2, 1);
    const withNaN = x.slice();
    withNaN[3 * 6 + 2] = Number.NaN;
    withNaN[17 * 6] = Number.POSITIVE_INFINITY;
    const cases: [string[], RegExp][] = [
      [['--in', writeMatrix('small.npy', x.subarray(0, 20 * 6), 20, 6)], /small\.npy has 20 rows; perplexity 30 needs at least 31 \(N > perplexity\): give more rows or --perplexity below 20$/],
      [['--in', join(dir, 'small.npy'), '--perplexity', '20'], /perplexity 20 needs at least 21 \(N > perplexity\)/],
      [['--in', writeMatrix('nan.npy', withNaN, 40, 6), '--perplexity', '5'], /nan\.npy: rows 3, 17 have NaN or infinite values \(row 3, column 2 is NaN\); t-SNE needs finite values/],
      [['--in', join(dir, 'missing.npy')], /missing\.npy: no such file$/],
      [['--in', join(dir, 'small.npy'), '--method', 'umap'], /--method must be one of auto, exact, bh, fft, hybrid, got "umap"$/],
      [['--in', join(dir, 'small.npy'), '--perplexity', '0'], /--perplexity must be a number > 0, got "0"$/],
      [['--in', join(dir, 'small.npy'), '--iterations', '-3'], /--iterations must be an integer >= 1, got "-3"$/],
    ];
    python(['-c', 'import sys, numpy as np; np.save(sys.argv[1], np.zeros((40, 6))); np.save(sys.argv[2], np.zeros((40, 3, 2), np.float32))', join(dir, 'f64.npy'), join(dir, 'cube.npy')]);
    cases.push([['--in', join(dir, 'f64.npy')], /f64\.npy: dtype <f8, expected float32 \('<f4'\); convert with arr\.astype\(np\.float32\)$/]);
    cases.push([['--in', join(dir, 'cube.npy')], /cube\.npy: shape \(40, 3, 2\), expected a 2-D matrix \(rows, features\)$/]);
    for (const [args, message] of cases) {
      const result = strata(['tsne', ...args, '--out', join(dir, 'never.npy')]);
      expect(result.status, args.join(' ')).toBe(1);
      expect(result.stderr.trim()).toMatch(message);
      expect(result.stderr.trim().split('\n')).toHaveLength(1);
    }
    expect(existsSync(join(dir, 'never.npy'))).toBe(false);
  });
});
