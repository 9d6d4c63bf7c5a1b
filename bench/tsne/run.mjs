#!/usr/bin/env node
// t-SNE speed and quality: Strata (packages/core/dist) vs scikit-learn's TSNE (Debian's
// /usr/bin/python3, Barnes-Hut, 1.2 defaults: perplexity 30, 1000 iterations, PCA init,
// learning rate 'auto'), on the same data in the same run. sklearn's time is measured inside
// Python around fit_transform; Strata's around tsne() in a child process, whose peak RSS is
// reported too. Trustworthiness@10 of both maps comes from the same (sklearn-exact) port; above
// --trust-sample points it is computed on a fixed random subsample of that size (O(n^2) time).
//
//   npm run build -w @strata/core
//   node bench/tsne/run.mjs [1000,5000,20000,73000] [--data synthetic|pca|digits|file.f32|file.npy]
//       [--dim 50] [--threads N] [--sklearn-max N] [--trust-sample 5000] [--method auto]
//
// sklearn at 73,000 points takes tens of minutes (its neighbour search alone ~12 min); use
// --sklearn-max 20000 to time Strata alone above that.
import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, cpus, loadavg, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generator, principalAxes, synthetic } from './data.mjs';

const root = resolve(import.meta.dirname, '../..');
const python = process.env.STRATA_REFERENCE_PYTHON ?? '/usr/bin/python3';
const built = join(root, 'packages/core/dist/tsne/index.js');
if (!existsSync(built)) {
  console.error(`${built} is missing: build first with "npm run build -w @strata/core"`);
  process.exit(1);
}
const { tsne, trustworthiness } = await import(pathToFileURL(built).href);

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: 'synthetic' },
    dim: { type: 'string', default: '50' },
    threads: { type: 'string', default: String(availableParallelism()) },
    method: { type: 'string', default: 'auto' },
    'sklearn-max': { type: 'string', default: 'Infinity' },
    'trust-sample': { type: 'string', default: '5000' },
    child: { type: 'boolean', default: false },
  },
});

if (values.child) {
  // Child mode: one Strata run, so that maxRSS is this run's peak alone.
  const [dataPath, n, dim, outPath] = positionals;
  const x = readF32(dataPath);
  const started = performance.now();
  const cpuStart = process.cpuUsage();
  const result = await tsne(x, Number(n), Number(dim), { threads: Number(values.threads), method: values.method });
  const seconds = (performance.now() - started) / 1000;
  const cpu = process.cpuUsage(cpuStart);
  writeFileSync(outPath, Buffer.from(result.embedding.buffer));
  const { embedding: _, ...rest } = result;
  const cpuSeconds = (cpu.user + cpu.system) / 1e6;
  console.log(JSON.stringify({ seconds, cpuSeconds, peakRssMiB: process.resourceUsage().maxRSS / 1024, ...rest }));
  process.exit(0);
}

const sizes = (positionals[0] ?? '1000,5000').split(',').map(Number);
const threads = Number(values.threads);
const sklearnMax = Number(values['sklearn-max']);
const trustSample = Number(values['trust-sample']);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-tsne-'));

function readF32(path) {
  const bytes = readFileSync(path);
  return new Float32Array(bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength));
}

function loadData(n) {
  if (values.data === 'synthetic') {
    const dim = Number(values.dim);
    return { x: synthetic(n, dim), dim, label: `synthetic ${dim}-d, 40 classes` };
  }
  if (values.data === 'pca') {
    // The synthetic classes on their principal axes: what stored PCA vectors look like.
    const dim = Number(values.dim);
    return { x: principalAxes(synthetic(n, dim), n, dim, dir), dim, label: `PCA of synthetic ${dim}-d` };
  }
  if (values.data === 'digits') {
    const path = join(dir, 'digits.f32');
    execFileSync(python, ['-c', 'import sys, numpy as np\nfrom sklearn.datasets import load_digits\nload_digits().data.astype(np.float32).tofile(sys.argv[1])', path]);
    const all = readF32(path);
    if (n > 1797) throw new RangeError(`digits has 1797 samples, asked for ${n}`);
    return { x: all.slice(0, n * 64), dim: 64, label: 'sklearn digits' };
  }
  if (values.data.endsWith('.npy')) {
    const script = 'import sys, numpy as np\nX = np.load(sys.argv[1]).astype(np.float32)\nX.tofile(sys.argv[2])\nprint(X.shape[1])';
    const path = join(dir, 'input.f32');
    const dim = Number(execFileSync(python, ['-c', script, values.data, path], { encoding: 'utf8' }));
    const all = readF32(path);
    if (all.length / dim < n) throw new RangeError(`${values.data} has ${all.length / dim} rows, asked for ${n}`);
    return { x: all.slice(0, n * dim), dim, label: values.data };
  }
  const dim = Number(values.dim);
  const all = readF32(values.data);
  if (all.length / dim < n) throw new RangeError(`${values.data} has ${all.length / dim} rows of ${dim}, asked for ${n}`);
  return { x: all.slice(0, n * dim), dim, label: `${values.data} (${dim}-d)` };
}

function runStrata(dataPath, n, dim) {
  const out = join(dir, `strata-${n}.f32`);
  const child = spawnSync(
    process.execPath,
    [import.meta.filename, '--child', `--threads=${threads}`, `--method=${values.method}`, dataPath, String(n), String(dim), out],
    { encoding: 'utf8', maxBuffer: 1 << 26 },
  );
  if (child.status !== 0) throw new Error(`Strata run failed:\n${child.stderr}`);
  return { ...JSON.parse(child.stdout.trim().split('\n').pop()), embedding: readF32(out) };
}

function runSklearn(dataPath, n, dim) {
  const out = join(dir, `sklearn-${n}.f32`);
  const script = `
import sys, json, time, numpy as np
from sklearn.manifold import TSNE
X = np.fromfile(sys.argv[1], dtype=np.float32).reshape(${n}, ${dim})
model = TSNE(n_components=2, perplexity=30.0, n_iter=1000, init='pca', learning_rate='auto', random_state=0)
t = time.perf_counter()
c = time.process_time()
Y = model.fit_transform(X)
seconds = time.perf_counter() - t
cpu = time.process_time() - c
Y.astype(np.float32).tofile(sys.argv[2])
print(json.dumps({'seconds': seconds, 'cpuSeconds': cpu, 'klDivergence': float(model.kl_divergence_)}))
`;
  const stdout = execFileSync(python, ['-c', script, dataPath, out], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return { ...JSON.parse(stdout.trim().split('\n').pop()), embedding: readF32(out) };
}

async function runTsneJs(x, n, dim) {
  let TSNE;
  try {
    ({ default: TSNE } = await import('tsne-js'));
  } catch {
    return undefined;
  }
  const rows = Array.from({ length: n }, (_, i) => Array.from(x.subarray(i * dim, (i + 1) * dim)));
  const model = new TSNE({ dim: 2, perplexity: 30, earlyExaggeration: 12, learningRate: 200, nIter: 1000, metric: 'euclidean' });
  const started = performance.now();
  model.init({ data: rows, type: 'dense' });
  model.run();
  const seconds = (performance.now() - started) / 1000;
  return { seconds, embedding: Float32Array.from(model.getOutput().flat()) };
}

/** Trustworthiness@10 on all points, or on a fixed subsample above --trust-sample. */
function trust(x, n, dim, y) {
  if (n <= trustSample) return trustworthiness(x, n, dim, y, 10);
  const { next } = generator(7);
  const picked = new Set();
  while (picked.size < trustSample) picked.add(Math.floor(next() * n));
  const ids = [...picked].sort((a, b) => a - b);
  const xs = new Float32Array(trustSample * dim);
  const ys = new Float32Array(trustSample * 2);
  ids.forEach((id, at) => {
    xs.set(x.subarray(id * dim, (id + 1) * dim), at * dim);
    ys.set(y.subarray(id * 2, id * 2 + 2), at * 2);
  });
  return trustworthiness(xs, trustSample, dim, ys, 10);
}

const fmt = (v, digits) => (v === undefined ? '-' : v.toFixed(digits));
try {
  const cpu = cpus()[0]?.model ?? 'unknown CPU';
  console.log(`t-SNE, perplexity 30, 1000 iterations, PCA init; ${cpus().length} cores (${cpu}); Strata threads ${threads}, method ${values.method}`);
  console.log(`load average ${loadavg().map((v) => v.toFixed(1)).join(' ')} (wall times are only comparable on an idle machine; CPU s adds all threads)`);
  console.log('     N  data                              strata s  sklearn s  speed-up  KL strata  KL sklearn  T@10 strata  T@10 sklearn  strata method         peak RSS MiB  CPU s strata / sklearn');
  for (const n of sizes) {
    const { x, dim, label } = loadData(n);
    const dataPath = join(dir, `x-${n}.f32`);
    writeFileSync(dataPath, Buffer.from(x.buffer, x.byteOffset, x.byteLength));
    const strata = runStrata(dataPath, n, dim);
    const sk = n <= sklearnMax ? runSklearn(dataPath, n, dim) : undefined;
    const tStrata = trust(x, n, dim, strata.embedding);
    const tSk = sk === undefined ? undefined : trust(x, n, dim, sk.embedding);
    const steps = Object.entries(strata.steps)
      .filter(([, count]) => count > 0)
      .map(([name, count]) => `${name} ${count}`)
      .join('+');
    const trustNote = n > trustSample ? '*' : ' ';
    console.log(
      [
        String(n).padStart(6),
        label.padEnd(32),
        fmt(strata.seconds, 2).padStart(9),
        fmt(sk?.seconds, 2).padStart(10),
        (sk === undefined ? '-' : `${(sk.seconds / strata.seconds).toFixed(1)}x`).padStart(9),
        fmt(strata.klDivergence, 4).padStart(10),
        fmt(sk?.klDivergence, 4).padStart(11),
        (fmt(tStrata, 5) + trustNote).padStart(12),
        (fmt(tSk, 5) + trustNote).padStart(13),
        ` ${steps} (${strata.neighbors} kNN)`.padEnd(22),
        fmt(strata.peakRssMiB, 0).padStart(12),
        `${fmt(strata.cpuSeconds, 1)} / ${fmt(sk?.cpuSeconds, 1)}`.padStart(22),
      ].join('  '),
    );
    console.log(
      `        strata stages: neighbours ${strata.timings.neighbors.toFixed(2)} s, affinities ${strata.timings.affinities.toFixed(2)} s, optimisation ${strata.timings.optimization.toFixed(2)} s`,
    );
    if (n <= 500) {
      const js = await runTsneJs(x, n, dim);
      if (js === undefined) console.log('        tsne-js: not installed (left out on purpose); skipped');
      else console.log(`        tsne-js: ${js.seconds.toFixed(2)} s, T@10 ${trust(x, n, dim, js.embedding).toFixed(5)}`);
    }
  }
  if (sizes.some((n) => n > trustSample)) console.log(`* trustworthiness on a fixed subsample of ${trustSample} points`);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
