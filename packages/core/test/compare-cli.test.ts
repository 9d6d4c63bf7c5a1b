/**
 * `strata compare` end to end on a small `strata extract`-style folder: the pair, matrix and
 * brain-RDM forms print what the library computes, and bad input is one line on stderr.
 * Needs the built CLI (npm run build); skipped without it.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { compareLayers, correlateRdmWithLayers, rdmUpperTriangle, validateRdm, type FeatureMatrix } from '../src/compare/index.js';
import { encodeNpy } from '../src/npy.js';
import { createRandom } from '../src/random.js';

const CLI = resolve(import.meta.dirname, '../../../apps/cli/bin/strata.js');
const built = existsSync(resolve(import.meta.dirname, '../../../apps/cli/dist/commands/compare.js'));
const dir = mkdtempSync(join(tmpdir(), 'strata-compare-cli-'));
const out = join(dir, 'features');
const N = 60;
const names = ['conv2', 'pool3', 'pool5'];
const ids = Array.from({ length: N }, (_, i) => `img_${String(i).padStart(3, '0')}.png`);

const strata = (args: string[]): { status: number | null; stdout: string; stderr: string } =>
  spawnSync(process.execPath, [CLI, 'compare', ...args], { encoding: 'utf8' });

const random = createRandom(8);
const latent = Float64Array.from({ length: N * 4 }, () => random.normal());
const layers: FeatureMatrix[] = names.map((_, l) => {
  const columns = 10 + 5 * l;
  const data = new Float32Array(N * columns);
  for (let r = 0; r < N; r++) for (let c = 0; c < columns; c++) data[r * columns + c] = (latent[r * 4 + (c % 4)] as number) * (1 + c) + (l + 1) * random.normal();
  return { data, rows: N, columns };
});
const brainRows = Int32Array.from([5, 3, 17, 40, 22, 9, 31, 58, 12, 44, 27, 1]);

beforeAll(() => {
  mkdirSync(out);
  names.forEach((name, l) => writeFileSync(join(out, `${name}.npy`), encodeNpy(layers[l]?.data as Float32Array, [N, layers[l]?.columns as number])));
  writeFileSync(
    join(out, 'images.json'),
    JSON.stringify({ layers: names.map((name) => ({ name, file: `${name}.npy` })), rows: ids.map((id, index) => ({ index, id })), failures: [] }),
  );
  const m = brainRows.length;
  const upper = rdmUpperTriangle(layers[1] as FeatureMatrix, { rows: brainRows });
  const lines = [`,${Array.from(brainRows, (r) => ids[r]).join(',')}`];
  const square = new Float64Array(m * m);
  for (let i = 0, p = 0; i < m; i++) for (let j = i + 1; j < m; j++, p++) square[i * m + j] = square[j * m + i] = (upper[p] as number) + 0.2 * random.next();
  for (let i = 0; i < m; i++) lines.push([ids[brainRows[i] as number], ...Array.from(square.subarray(i * m, i * m + m), (v) => v.toPrecision(17))].join(','));
  writeFileSync(join(dir, 'brain.csv'), `${lines.join('\n')}\n`);
});

describe.skipIf(!built)('strata compare', () => {
  it('prints {"metric","value"} for two .npy files', () => {
    const result = strata(['--a', join(out, 'conv2.npy'), '--b', join(out, 'pool5.npy'), '--metric', 'cka-debiased']);
    expect(result.stderr).toBe('');
    const json = JSON.parse(result.stdout) as { metric: string; value: number };
    const expected = compareLayers(
      [
        { name: 'a', features: layers[0] as FeatureMatrix },
        { name: 'b', features: layers[2] as FeatureMatrix },
      ],
      { metric: 'cka-debiased' },
    ).values[1];
    expect(json.metric).toBe('cka-debiased');
    expect(json.value).toBe(expected);
    expect(JSON.parse(strata(['--a', join(out, 'conv2.npy'), '--b', join(out, 'pool5.npy'), '--metric', 'knn:4']).stdout)).toMatchObject({ metric: 'knn:4', k: 4, distance: 'cosine' });
  });

  it('prints the layer x layer matrix as JSON and CSV', () => {
    const expected = compareLayers(
      names.map((name, l) => ({ name, features: layers[l] as FeatureMatrix })),
      { metric: 'rsa' },
    );
    const json = JSON.parse(strata(['--layer-dir', out, '--all-layers', '--metric', 'rsa']).stdout) as { layers: string[]; matrix: number[][] };
    expect(json.layers).toEqual(names);
    expect(json.matrix.flat()).toEqual(Array.from(expected.values));
    const csv = strata(['--layer-dir', out, '--all-layers', '--metric', 'rsa', '--csv', '--layers', 'pool5,conv2']).stdout.trim().split('\n');
    expect(csv[0]).toBe('layer,conv2,pool5');
    expect(csv[1]).toBe(`conv2,1,${expected.values[2]}`);
  });

  it('correlates a brain RDM (CSV) with every layer, with p-values', () => {
    const result = strata(['--rdm', join(dir, 'brain.csv'), '--layer-dir', out, '--permutations', '300', '--seed', '2']);
    expect(result.status, result.stderr).toBe(0);
    const json = JSON.parse(result.stdout) as { images: number; pairs: number; layers: { layer: string; rho: number; p: number }[] };
    expect(json.images).toBe(12);
    expect(json.pairs).toBe(66);
    const m = brainRows.length;
    const square = new Float64Array(m * m);
    const text = readFileSync(join(dir, 'brain.csv'), 'utf8').trim().split('\n').slice(1);
    text.forEach((line, i) => line.split(',').slice(1).forEach((v, j) => (square[i * m + j] = Number(v))));
    const rdm = validateRdm(square, m, Array.from(brainRows, (r) => ids[r] as string), 'brain');
    const expected = correlateRdmWithLayers(rdm, names.map((name, l) => ({ name, features: layers[l] as FeatureMatrix })), ids, { permutations: 300, seed: 2 });
    expect(json.layers).toEqual(expected.layers);
    expect(json.layers[1]?.p).toBeLessThan(0.05);
    const csv = strata(['--rdm', join(dir, 'brain.csv'), '--layer-dir', out, '--permutations', '50', '--csv']).stdout.trim().split('\n');
    expect(csv[0]).toBe('layer,rho,p');
    expect(csv).toHaveLength(4);
  });

  it('fails with one clear line for bad input', () => {
    const unknown = join(dir, 'unknown.csv');
    writeFileSync(unknown, ',img_001.png,nope.png,img_002.png\nimg_001.png,0,1,2\nnope.png,1,0,3\nimg_002.png,2,3,0\n');
    const result = strata(['--rdm', unknown, '--layer-dir', out]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/^strata: .*unknown.csv: 1 of 3 image ids are not among the 60 images with features: "nope.png"/);
    expect(result.stderr.trim().split('\n')).toHaveLength(1);
    expect(strata(['--layer-dir', out, '--metric', 'cka']).stderr).toMatch(/give exactly one of/);
    expect(strata(['--a', join(out, 'conv2.npy'), '--b', join(out, 'pool5.npy'), '--metric', 'knn:x']).stderr).toMatch(/knn:K needs a positive integer K, got "x"/);
  });
});
