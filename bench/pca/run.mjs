#!/usr/bin/env node
// PCA speed and parity: Strata's fitPca + projection of every row vs scikit-learn's PCA
// (Debian's python3-sklearn) with svd_solver='full' and 'randomized' (same k), on the same
// seeded low-rank-plus-noise float32 matrix, measured in the same run and printed as ratios,
// with each side's peak RSS (each runs in its own process). Strata and sklearn randomized
// alternate over --rounds and the medians are compared (the machine may be shared); sklearn
// full runs once. sklearn holds the matrix in RAM, so keep shapes modest; Strata reads it
// from the .npy file. Parity is against sklearn full and against the exact float64 answer
// (exact64.py).
//
//   node bench/pca/run.mjs [--shapes 5000x25088,1500x200704] [--components 256] [--rounds 3]
//   node bench/pca/run.mjs --width-check [--width-rows 1000x802816,300x3211264]
//
// --width-check runs Strata alone at pool1 and conv1 widths (files of ~3.5 GB in $TMPDIR)
// and reports its peak RSS, to show memory does not grow with the width.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { readNpyMatrix } from '@strata/core/npy';

const here = resolve(import.meta.dirname);
const python = process.env.STRATA_REFERENCE_PYTHON ?? '/usr/bin/python3';
const { values } = parseArgs({
  options: {
    shapes: { type: 'string', default: '5000x25088,1500x200704' },
    components: { type: 'string', default: '256' },
    'width-check': { type: 'boolean', default: false },
    'width-rows': { type: 'string', default: '1000x802816,300x3211264' },
    memory: { type: 'string', default: '1024' },
    rounds: { type: 'string', default: '3' },
  },
});
const k = Number(values.components);
const dir = mkdtempSync(join(tmpdir(), 'strata-bench-pca-'));

function parseShape(text) {
  const [rows, columns] = text.split('x').map(Number);
  if (!Number.isInteger(rows) || !Number.isInteger(columns)) throw new RangeError(`shape "${text}", expected ROWSxCOLUMNS`);
  return { rows, columns };
}

function generate({ rows, columns }) {
  const path = join(dir, `x-${rows}x${columns}.npy`);
  execFileSync(python, [join(here, 'generate.py'), path, String(rows), String(columns), '--seed', '0']);
  return path;
}

function runStrata(input, components, out) {
  const args = [join(here, 'strata.mjs'), '--in', input, '--components', String(components), '--memory', values.memory];
  if (out) args.push('--out', out);
  return JSON.parse(execFileSync(process.execPath, args, { encoding: 'utf8', maxBuffer: 1 << 26 }));
}

function cosine(a, b, rows, width, j) {
  let dot = 0;
  let aa = 0;
  let bb = 0;
  for (let r = 0; r < rows; r += 1) {
    const x = a[r * width + j];
    const y = b[r * width + j];
    dot += x * y;
    aa += x * x;
    bb += y * y;
  }
  return dot / Math.sqrt(aa * bb);
}

/** Worst |cosine| of projected components (first 50 and all) and worst relative ratio error (first 50). */
function parity(ours, oursRatio, theirs, theirsRatio) {
  const n = Math.min(50, k);
  let ratio = 0;
  for (let j = 0; j < n; j += 1) ratio = Math.max(ratio, Math.abs(oursRatio[j] / theirsRatio[j] - 1));
  let first = 1;
  let all = 1;
  for (let j = 0; j < k; j += 1) {
    const c = Math.abs(cosine(ours.data, theirs.data, ours.rows, k, j));
    if (j < n) first = Math.min(first, c);
    all = Math.min(all, c);
  }
  return { ratio, first, all };
}

const fmt = (seconds) => `${seconds.toFixed(1)} s`;

try {
  if (values['width-check']) {
    console.log(`Strata alone at full layer width, k = ${k}, memory budget ${values.memory} MiB, ${cpus().length} cores`);
    console.log('shape              file GB   fit s  project s  basis     peak RSS MB');
    for (const text of values['width-rows'].split(',')) {
      const shape = parseShape(text);
      const input = generate(shape);
      const result = runStrata(input, Math.min(k, shape.rows), undefined);
      rmSync(input, { force: true });
      console.log(
        `${text.padEnd(18)} ${((shape.rows * shape.columns * 4) / 1e9).toFixed(2).padStart(7)} ${result.fitSeconds.toFixed(1).padStart(7)} ` +
          `${result.projectSeconds.toFixed(1).padStart(10)}  ${(result.inMemory ? 'memory' : 'file').padEnd(8)} ${result.maxRssMb.toFixed(0).padStart(12)}`,
      );
      console.log(`  phases ${JSON.stringify(result.phases)}, solver ${JSON.stringify(result.solver)}`);
    }
  } else {
    const rounds = Number(values.rounds);
    console.log(`k = ${k}, ${cpus().length} cores; times are fit + projection of every row, medians of ${rounds} alternating rounds; sklearn's exclude loading the .npy into RAM`);
    const median = (list) => [...list].sort((a, b) => a - b)[Math.floor(list.length / 2)];
    for (const text of values.shapes.split(',')) {
      const shape = parseShape(text);
      const input = generate(shape);
      const sklearn = (solvers) =>
        JSON.parse(execFileSync(python, [join(here, 'sklearn_pca.py'), input, String(k), join(dir, 'sklearn'), '--solvers', solvers], { encoding: 'utf8', maxBuffer: 1 << 26 }));
      const full = sklearn('full');
      const strataRuns = [];
      const randomizedRuns = [];
      for (let round = 0; round < rounds; round += 1) {
        strataRuns.push(runStrata(input, k, join(dir, 'strata.npy')));
        randomizedRuns.push(sklearn('randomized'));
      }
      const exact = JSON.parse(execFileSync(python, [join(here, 'exact64.py'), input, String(k), join(dir, 'exact.npy')], { encoding: 'utf8' }));
      const ours = strataRuns[strataRuns.length - 1];
      const oursY = readNpyMatrix(join(dir, 'strata.npy'));
      const fullY = readNpyMatrix(join(dir, 'sklearn-full.npy'));
      const randomizedY = readNpyMatrix(join(dir, 'sklearn-randomized.npy'));
      const exactY = readNpyMatrix(join(dir, 'exact.npy'));
      const strataSeconds = median(strataRuns.map((run) => run.fitSeconds + run.projectSeconds));
      const randomizedSeconds = median(randomizedRuns.map((run) => run.randomized.seconds));
      const line = (name, p) => `  ${name.padEnd(34)} ratio error (first 50) ${p.ratio.toExponential(1)}, worst |cos| first 50 ${p.first.toFixed(6)}, all ${k} ${p.all.toFixed(6)}`;
      console.log(`\n${shape.rows} x ${shape.columns} float32 (${((shape.rows * shape.columns * 4) / 1e9).toFixed(2)} GB)`);
      console.log(
        `  Strata             ${fmt(strataSeconds).padStart(8)}  rounds ${strataRuns.map((run) => (run.fitSeconds + run.projectSeconds).toFixed(1)).join(', ')}; last: fit ${fmt(ours.fitSeconds)} (${Object.entries(ours.phases)
          .map(([p, sec]) => `${p} ${sec.toFixed(1)}`)
          .join(', ')}), project ${fmt(ours.projectSeconds)}; peak RSS ${ours.maxRssMb.toFixed(0)} MB`,
      );
      console.log(`  sklearn randomized ${fmt(randomizedSeconds).padStart(8)}  rounds ${randomizedRuns.map((run) => run.randomized.seconds.toFixed(1)).join(', ')}; Strata is ${(randomizedSeconds / strataSeconds).toFixed(2)}x as fast`);
      console.log(`  sklearn full       ${fmt(full.full.seconds).padStart(8)}  Strata is ${(full.full.seconds / strataSeconds).toFixed(2)}x as fast  (sklearn load ${fmt(full.load_seconds)}, peak RSS ${full.max_rss_mb.toFixed(0)} MB)`);
      console.log(`  solver ${JSON.stringify(ours.solver)}`);
      console.log(line('Strata vs exact float64', parity(oursY, ours.ratio, exactY, exact.ratio)));
      console.log(line('sklearn full (float32) vs exact', parity(fullY, full.full.ratio, exactY, exact.ratio)));
      console.log(line('Strata vs sklearn full', parity(oursY, ours.ratio, fullY, full.full.ratio)));
      console.log(line('sklearn randomized vs sklearn full', parity(randomizedY, randomizedRuns[0].randomized.ratio, fullY, full.full.ratio)));
      rmSync(input, { force: true });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
