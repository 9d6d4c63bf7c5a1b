#!/usr/bin/env node
// PCA speed and parity: Strata's fitPca + projection of every row vs scikit-learn's PCA
// (Debian's python3-sklearn) with svd_solver='full' and 'randomized' (same k), on the same
// seeded low-rank-plus-noise float32 matrix, measured in the same run and printed as ratios,
// with each side's peak RSS (each runs in its own process). sklearn holds the matrix in RAM,
// so keep shapes modest; Strata reads it from the .npy file.
//
//   node bench/pca/run.mjs [--shapes 5000x25088,1500x200704] [--components 256]
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
    console.log(`k = ${k}, ${cpus().length} cores; times are fit + projection of every row; sklearn's exclude loading the .npy into RAM`);
    for (const text of values.shapes.split(',')) {
      const shape = parseShape(text);
      const input = generate(shape);
      const ours = runStrata(input, k, join(dir, 'strata.npy'));
      const reference = JSON.parse(execFileSync(python, [join(here, 'sklearn_pca.py'), input, String(k), join(dir, 'sklearn')], { encoding: 'utf8', maxBuffer: 1 << 26 }));
      const oursY = readNpyMatrix(join(dir, 'strata.npy'));
      const fullY = readNpyMatrix(join(dir, 'sklearn-full.npy'));
      const randomizedY = readNpyMatrix(join(dir, 'sklearn-randomized.npy'));
      const strataSeconds = ours.fitSeconds + ours.projectSeconds;
      const vsFull = parity(oursY, ours.ratio, fullY, reference.full.ratio);
      const randomizedVsFull = parity(randomizedY, reference.randomized.ratio, fullY, reference.full.ratio);
      console.log(`\n${shape.rows} x ${shape.columns} float32 (${((shape.rows * shape.columns * 4) / 1e9).toFixed(2)} GB)`);
      console.log(`  Strata            ${fmt(strataSeconds).padStart(8)}  (fit ${fmt(ours.fitSeconds)}: ${Object.entries(ours.phases).map(([p, s]) => `${p} ${s.toFixed(1)}`).join(', ')}; project ${fmt(ours.projectSeconds)})  peak RSS ${ours.maxRssMb.toFixed(0)} MB`);
      console.log(`  sklearn full      ${fmt(reference.full.seconds).padStart(8)}  Strata is ${(reference.full.seconds / strataSeconds).toFixed(2)}x as fast`);
      console.log(`  sklearn randomized${fmt(reference.randomized.seconds).padStart(8)}  Strata is ${(reference.randomized.seconds / strataSeconds).toFixed(2)}x as fast   (sklearn load ${fmt(reference.load_seconds)}, peak RSS ${reference.max_rss_mb.toFixed(0)} MB)`);
      console.log(`  solver ${JSON.stringify(ours.solver)}`);
      console.log(
        `  parity vs sklearn full: ratio error (first 50) ${vsFull.ratio.toExponential(1)}, worst |cos| first 50 ${vsFull.first.toFixed(6)}, all ${k} ${vsFull.all.toFixed(6)}` +
          `  [sklearn randomized vs full: ${randomizedVsFull.ratio.toExponential(1)}, ${randomizedVsFull.first.toFixed(6)}, ${randomizedVsFull.all.toFixed(6)}]`,
      );
      rmSync(input, { force: true });
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}
