import { rmSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import type { Command } from 'commander';
import { NpyMatrixReader, NpyRowWriter } from '@strata/core/npy';
import { fitPca, MAX_COMPONENTS, NonFiniteValueError, projectRows, type PcaProgress } from '@strata/core/pca';
import { createProgress, type ProgressReporter } from '../progress.js';
import { parseInteger } from '../parse.js';

interface PcaCommandOptions {
  in: string;
  components: string;
  seed: string;
  whiten?: boolean;
  center: boolean;
  maxSamples: string;
  out: string;
  basis?: string;
  threads?: string;
  memory: string;
}

const PHASES: Record<PcaProgress['phase'], { label: string; unit: string }> = {
  gather: { label: 'pca: reading sample', unit: 'rows' },
  gram: { label: 'pca: Gram matrix', unit: 'blocks' },
  eigen: { label: 'pca: eigensolver', unit: 'iterations' },
  basis: { label: 'pca: components', unit: 'blocks' },
};

/** One progress bar per phase of the fit, replaced when the phase changes. */
function phaseProgress(): { update(progress: PcaProgress): void; stop(): void } {
  let current: { phase: string; reporter: ProgressReporter; started: number } | undefined;
  return {
    update(progress) {
      if (current?.phase !== progress.phase) {
        current?.reporter.stop();
        const { label, unit } = PHASES[progress.phase];
        current = { phase: progress.phase, reporter: createProgress(label, progress.total, unit), started: Date.now() };
      }
      current.reporter.update(progress.done, { rate: progress.done / Math.max((Date.now() - current.started) / 1000, 1e-3) });
    },
    stop: () => current?.reporter.stop(),
  };
}

/** A NaN/Inf error, reworded to name the input file and its row. */
function describeNonFinite(error: unknown, path: string): unknown {
  if (!(error instanceof NonFiniteValueError)) return error;
  return new RangeError(`${path}: row ${error.row} has ${error.value} at column ${error.column}; PCA needs finite values`);
}

export function registerPca(program: Command): void {
  program
    .command('pca')
    .description('fit PCA on a seeded sample of the rows of X.npy (float32, N x D) and write every row projected to OUT.npy (N x K float32), plus the basis file')
    .requiredOption('--in <file>', 'input matrix, float32 .npy, N x D (e.g. features/pool1.npy)')
    .option('--components <k>', `number of components, at most min(N, D) and ${MAX_COMPONENTS} (pgvector's HNSW limit)`, '256')
    .option('--seed <n>', 'seed for the row sample and the solver', '0')
    .option('--whiten', 'scale projections to unit variance')
    .option('--no-center', 'do not subtract the mean (decompose X itself)')
    .option('--max-samples <m>', 'rows fitted on; more rows are subsampled (seeded)', '5000')
    .requiredOption('--out <file>', 'output .npy: every row of X projected, N x K float32')
    .option('--basis <file>', 'basis file to write (default: OUT with extension .pca)')
    .option('--threads <n>', 'matrix-kernel threads (default: all cores)')
    .option('--memory <MiB>', 'memory budget for sample blocks and the basis', '1024')
    .action(async (options: PcaCommandOptions) => {
      const components = parseInteger(options.components, '--components', { min: 1 });
      const seed = parseInteger(options.seed, '--seed');
      const maxSamples = parseInteger(options.maxSamples, '--max-samples', { min: 2 });
      const threads = options.threads === undefined ? undefined : parseInteger(options.threads, '--threads', { min: 1 });
      const memoryBudget = parseInteger(options.memory, '--memory', { min: 16 }) * 2 ** 20;
      const basisPath = resolve(options.basis ?? `${options.out.replace(/\.npy$/i, '')}.pca`);
      if (components > MAX_COMPONENTS) {
        throw new RangeError(`--components ${components} is more than ${MAX_COMPONENTS}, the most dimensions pgvector's HNSW index takes`);
      }
      const reader = new NpyMatrixReader(options.in);
      try {
        const { rows, columns } = reader;
        if (components > Math.min(rows, columns)) {
          throw new RangeError(`--components ${components} is more than min(rows, columns) = min(${rows}, ${columns}) = ${Math.min(rows, columns)} of ${options.in}`);
        }
        const samples = Math.min(rows, maxSamples);
        if (components > samples) {
          throw new RangeError(`--components ${components} is more than the ${samples} rows fitted on (--max-samples ${maxSamples})`);
        }
        const abort = new AbortController();
        process.once('SIGINT', () => abort.abort(new Error('interrupted')));
        const started = Date.now();
        const progress = phaseProgress();
        let model;
        try {
          model = await fitPca(reader, {
            components,
            seed,
            whiten: options.whiten ?? false,
            center: options.center,
            maxSamples,
            threads,
            memoryBudget,
            tempDir: dirname(basisPath),
            signal: abort.signal,
            onProgress: (p) => progress.update(p),
          });
        } catch (error) {
          throw describeNonFinite(error, options.in);
        } finally {
          progress.stop();
        }
        const fitSeconds = (Date.now() - started) / 1000;
        try {
          await model.save(basisPath);
          const writer = NpyRowWriter.create(options.out, components);
          const projecting = createProgress('pca: projecting', rows, 'rows');
          const projectStarted = Date.now();
          try {
            await projectRows(model, reader, {
              name: options.in,
              threads,
              memoryBudget: Math.floor(memoryBudget / 4),
              tempDir: dirname(basisPath),
              signal: abort.signal,
              onRows: (projected) => writer.append(projected),
              onProgress: (done) => projecting.update(done, { rate: done / Math.max((Date.now() - projectStarted) / 1000, 1e-3) }),
            });
            writer.finish();
          } catch (error) {
            // Leave no half-written output or a basis that goes with no output.
            writer.close();
            rmSync(options.out, { force: true });
            rmSync(basisPath, { force: true });
            throw describeNonFinite(error, options.in);
          } finally {
            projecting.stop();
          }
          const explained = model.explainedVarianceRatio.reduce((a, b) => a + b, 0);
          const solver = model.toJSON().solver;
          console.log(
            `fitted ${components} components on ${samples} of ${rows} rows x ${columns} features in ${fitSeconds.toFixed(1)} s ` +
              `(${solver.method} matrix, ${solver.eigensolver} eigensolver): ${(100 * explained).toFixed(2)}% of the variance`,
          );
          console.log(`projected ${rows} rows in ${((Date.now() - projectStarted) / 1000).toFixed(1)} s`);
          console.log(`  ${resolve(options.out)}  (${rows} x ${components} float32)`);
          console.log(`  ${basisPath}  (basis, sha256 ${model.sha256})`);
        } finally {
          await model.dispose();
        }
      } finally {
        reader.close();
      }
    });
}
