/**
 * `strata pca` end to end, run as a user runs it (the built CLI, so `npm run build` first):
 * output shape, the basis file beside it, the same projections as the library, and one-line
 * errors for bad input.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, test } from 'vitest';
import { encodeNpy, readNpyMatrix } from '../src/npy.js';
import { PcaModel } from '../src/pca/index.js';
import { createRandom } from '../src/random.js';

const CLI = resolve(import.meta.dirname, '../../../apps/cli/bin/strata.js');
const dir = mkdtempSync(join(tmpdir(), 'strata-pca-cli-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function strata(args: readonly string[]): { status: number | null; stdout: string; stderr: string } {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', cwd: dir });
}

function matrix(name: string, rows: number, columns: number, seed: number, edit?: (data: Float32Array) => void): string {
  const random = createRandom(seed);
  const data = new Float32Array(rows * columns);
  for (let r = 0; r < rows; r += 1) {
    const a = random.normal();
    const b = random.normal() * 0.3;
    for (let c = 0; c < columns; c += 1) data[r * columns + c] = a * Math.sin(c / 7) + b * Math.cos(c / 3) + 0.01 * random.normal() + 1;
  }
  edit?.(data);
  const path = join(dir, name);
  writeFileSync(path, encodeNpy(data, [rows, columns]));
  return path;
}

describe('strata pca', () => {
  test('writes N x K projections and a basis that projects the same rows to the same values', async () => {
    const input = matrix('x.npy', 120, 3000, 1);
    const run = strata(['pca', '--in', input, '--components', '8', '--max-samples', '100', '--seed', '4', '--out', 'y.npy']);
    expect(run.status, run.stderr).toBe(0);
    expect(run.stdout).toMatch(/fitted 8 components on 100 of 120 rows x 3000 features/);
    expect(run.stderr).toMatch(/pca: Gram matrix/);
    const y = readNpyMatrix(join(dir, 'y.npy'));
    expect([y.rows, y.columns]).toEqual([120, 8]);
    const model = await PcaModel.load(join(dir, 'y.pca'));
    expect(model.toJSON()).toMatchObject({ components: 8, dimension: 3000, samples: 100, sourceRows: 120, seed: 4, center: true, whiten: false });
    const x = readNpyMatrix(input);
    const expected = model.project(x.data, x.rows);
    const scale = expected.reduce((a, b) => Math.max(a, Math.abs(b)), 0);
    for (let i = 0; i < expected.length; i += 1) expect(Math.abs((y.data[i] as number) - (expected[i] as number))).toBeLessThan(1e-5 * scale);
    await model.dispose();

    const whitened = strata(['pca', '--in', input, '--components', '3', '--whiten', '--no-center', '--out', 'w.npy', '--basis', 'w-basis.pca']);
    expect(whitened.status, whitened.stderr).toBe(0);
    const whitenedModel = await PcaModel.load(join(dir, 'w-basis.pca'));
    expect(whitenedModel.toJSON()).toMatchObject({ whiten: true, center: false });
    await whitenedModel.dispose();
  });

  test('bad input gives one clear line and leaves no output', () => {
    const input = matrix('small.npy', 30, 40, 2);
    const cases: Array<[string[], RegExp]> = [
      [['--components', '2001'], /--components 2001 is more than 2000/],
      [['--components', '31'], /more than min\(rows, columns\) = min\(30, 40\) = 30/],
      [['--components', '12', '--max-samples', '10'], /more than the 10 rows fitted on/],
    ];
    for (const [args, message] of cases) {
      const run = strata(['pca', '--in', input, '--out', 'bad.npy', ...args]);
      expect(run.status).toBe(1);
      expect(run.stderr).toMatch(message);
    }
    const nan = matrix('nan.npy', 30, 40, 3, (data) => (data[17 * 40 + 5] = Number.NaN));
    const run = strata(['pca', '--in', nan, '--components', '2', '--out', 'bad.npy']);
    expect(run.stderr).toMatch(/nan\.npy: row 17 has NaN at column 5/);
    // Row 17 outside the fitted sample: found while projecting; no partial output is left.
    const late = strata(['pca', '--in', nan, '--components', '2', '--max-samples', '10', '--out', 'bad.npy']);
    expect(late.stderr).toMatch(/row 17 has NaN at column 5/);
    expect(existsSync(join(dir, 'bad.npy')) || existsSync(join(dir, 'bad.pca'))).toBe(false);

    const doubles = join(dir, 'f64.npy');
    // A float64 .npy (2 x 2 zeros): 10-byte prefix, header padded to 128 bytes, 32 bytes of data.
    const header = `${"{'descr': '<f8', 'fortran_order': False, 'shape': (2, 2), }".padEnd(117, ' ')}\n`;
    const bytes = Buffer.alloc(128 + 32);
    Buffer.from('\x93NUMPY\x01\x00', 'latin1').copy(bytes);
    bytes.writeUInt16LE(header.length, 8);
    bytes.write(header, 10, 'latin1');
    writeFileSync(doubles, bytes);
    expect(strata(['pca', '--in', doubles, '--components', '1', '--out', 'bad.npy']).stderr).toMatch(/dtype <f8, expected float32/);
  });
});
