#!/usr/bin/env node
// Strata's side of the PCA bench, in its own process so that its peak RSS is its own:
// fitPca on the .npy file, then every row projected (projectRows), timed. Prints one JSON line.
//
//   node bench/pca/strata.mjs --in X.npy --components K --out Y.npy [--max-samples M] [--memory MiB] [--whiten]
import { parseArgs } from 'node:util';
import { NpyMatrixReader, NpyRowWriter } from '@strata/core/npy';
import { fitPca, projectRows } from '@strata/core/pca';

const { values } = parseArgs({
  options: {
    in: { type: 'string' },
    components: { type: 'string', default: '256' },
    out: { type: 'string' },
    'max-samples': { type: 'string', default: '5000' },
    memory: { type: 'string', default: '1024' },
    whiten: { type: 'boolean', default: false },
  },
});
const reader = new NpyMatrixReader(values.in);
const memoryBudget = Number(values.memory) * 2 ** 20;
const phases = {};
let phase;
let phaseStart = performance.now();
const started = performance.now();
const model = await fitPca(reader, {
  components: Number(values.components),
  maxSamples: Number(values['max-samples']),
  whiten: values.whiten,
  memoryBudget,
  onProgress: (p) => {
    if (p.phase !== phase) {
      const now = performance.now();
      if (phase) phases[phase] = (now - phaseStart) / 1000;
      phase = p.phase;
      phaseStart = now;
    }
  },
});
const fitSeconds = (performance.now() - started) / 1000;
phases[phase] = (performance.now() - phaseStart) / 1000;
const projectStart = performance.now();
const writer = values.out ? NpyRowWriter.create(values.out, model.components) : undefined;
await projectRows(model, reader, { memoryBudget: memoryBudget / 4, onRows: (rows) => writer?.append(rows) });
writer?.finish();
const projectSeconds = (performance.now() - projectStart) / 1000;
console.log(
  JSON.stringify({
    fitSeconds,
    projectSeconds,
    phases,
    solver: model.toJSON().solver,
    inMemory: model.inMemory,
    ratio: Array.from(model.explainedVarianceRatio),
    maxRssMb: process.resourceUsage().maxRSS / 1024,
  }),
);
await model.dispose();
reader.close();
