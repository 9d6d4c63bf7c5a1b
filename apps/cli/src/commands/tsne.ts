import { renameSync, rmSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { encodeNpy, readNpyMatrix } from '@strata/core/npy';
import { tsne, type TsneMethod, type TsneProgress } from '@strata/core/tsne';
import { createProgress, type ProgressReporter } from '../progress.js';
import { parseInteger } from '../parse.js';

interface TsneCommandOptions {
  in: string;
  out: string;
  perplexity: string;
  iterations: string;
  seed: string;
  method: string;
  threads?: string;
}

const METHODS = ['auto', 'exact', 'bh', 'fft', 'hybrid'] as const;

const PHASE_TEXT: Readonly<Record<string, string>> = {
  neighbors: 'finding nearest neighbours',
  affinities: 'calibrating perplexities',
  init: 'PCA initialisation',
};

export function parseTsneMethod(text: string, option = '--method'): TsneMethod | 'auto' {
  if ((METHODS as readonly string[]).includes(text)) return text as TsneMethod | 'auto';
  throw new RangeError(`${option} must be one of ${METHODS.join(', ')}, got "${text}"`);
}

export function parsePerplexity(text: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value <= 0) throw new RangeError(`--perplexity must be a number > 0, got "${text}"`);
  return value;
}

function readInput(path: string): { data: Float32Array; rows: number; columns: number } {
  try {
    return readNpyMatrix(path);
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw new Error(`${path}: no such file`);
    if (code === 'EISDIR') throw new Error(`${path} is a folder; expected a float32 .npy file`);
    throw error;
  }
}

/** Rows holding NaN or infinite values, named (the first ten) in one message; undefined when all are finite. */
function nonFiniteRows(data: Float32Array, rows: number, columns: number, path: string): string | undefined {
  const bad: number[] = [];
  let first: { row: number; column: number; value: number } | undefined;
  for (let r = 0; r < rows; r++) {
    for (let c = 0; c < columns; c++) {
      const value = data[r * columns + c] as number;
      if (!Number.isFinite(value)) {
        first ??= { row: r, column: c, value };
        bad.push(r);
        break;
      }
    }
  }
  if (first === undefined) return undefined;
  const named = bad.slice(0, 10).join(', ') + (bad.length > 10 ? `, ... (${bad.length} rows in all)` : '');
  return `${path}: ${bad.length === 1 ? 'row' : 'rows'} ${named} ${bad.length === 1 ? 'has' : 'have'} NaN or infinite values (row ${first.row}, column ${first.column} is ${first.value}); t-SNE needs finite values: drop or fix ${bad.length === 1 ? 'it' : 'them'}`;
}

/** One line per preparatory phase, then a bar over the gradient steps with the latest KL. */
function tsneProgress(total: number): { update(progress: TsneProgress): void; stop(): void } {
  let phase = '';
  let bar: ProgressReporter | undefined;
  let started = 0;
  let kl: number | undefined;
  return {
    update(progress) {
      if (progress.phase !== phase) {
        phase = progress.phase;
        const text = PHASE_TEXT[phase];
        if (text !== undefined) process.stderr.write(`tsne: ${text}\n`);
        if (phase === 'exaggeration' || (phase === 'embedding' && bar === undefined)) {
          process.stderr.write(`tsne: gradient descent, ${total} steps\n`);
          bar = createProgress('tsne', total, 'it');
          started = Date.now();
        }
      }
      if (bar === undefined) return;
      if (progress.kl !== undefined) kl = progress.kl;
      const done = progress.iteration + 1;
      bar.update(done, {
        rate: done / Math.max((Date.now() - started) / 1000, 1e-3),
        note: `${phase === 'exaggeration' ? 'early exaggeration' : 'embedding'}${kl === undefined ? '' : `, KL ${kl.toFixed(4)}`}`,
      });
    },
    stop: () => bar?.stop(),
  };
}

export function registerTsne(program: Command): void {
  program
    .command('tsne')
    .description('t-SNE of the rows of X.npy (float32, N x D) to Y.npy (N x 2 float32), as sklearn TSNE(init="pca", learning_rate="auto") computes it')
    .requiredOption('--in <file>', 'input matrix, float32 .npy, N x D (e.g. PCA output)')
    .requiredOption('--out <file>', 'output .npy: N x 2 float32 map coordinates')
    .option('--perplexity <p>', 'perplexity; needs N > perplexity', '30')
    .option('--iterations <n>', 'gradient steps, early exaggeration included', '1000')
    .option('--seed <n>', 'seed (PCA start vectors, approximate neighbour trees)', '0')
    .option('--method <name>', 'repulsion: auto, exact, bh (Barnes-Hut), fft or hybrid', 'auto')
    .option('--threads <n>', 'threads (default: all cores); the map is the same for any count')
    .action(async (options: TsneCommandOptions) => {
      const perplexity = parsePerplexity(options.perplexity);
      const iterations = parseInteger(options.iterations, '--iterations', { min: 1 });
      const seed = parseInteger(options.seed, '--seed');
      const method = parseTsneMethod(options.method);
      const threads = options.threads === undefined ? undefined : parseInteger(options.threads, '--threads', { min: 1 });
      const { data, rows, columns } = readInput(options.in);
      if (rows <= perplexity) {
        throw new RangeError(
          `${options.in} has ${rows} rows; perplexity ${perplexity} needs at least ${Math.floor(perplexity) + 1} (N > perplexity)` +
            (rows >= 2 ? `: give more rows or --perplexity below ${rows}` : ''),
        );
      }
      const nonFinite = nonFiniteRows(data, rows, columns, options.in);
      if (nonFinite !== undefined) throw new RangeError(nonFinite);

      const abort = new AbortController();
      const onInterrupt = (): void => abort.abort(new Error(`interrupted; ${options.out} not written`));
      process.once('SIGINT', onInterrupt);
      const progress = tsneProgress(iterations);
      const started = Date.now();
      let result;
      try {
        result = await tsne(data, rows, columns, {
          perplexity,
          iterations,
          seed,
          method,
          ...(threads === undefined ? {} : { threads }),
          signal: abort.signal,
          onProgress: (p) => progress.update(p),
        });
      } finally {
        progress.stop();
        process.removeListener('SIGINT', onInterrupt);
      }
      // Written beside the target and renamed, so that Y.npy is whole or absent.
      const out = resolve(options.out);
      const partial = `${out}.partial`;
      try {
        writeFileSync(partial, encodeNpy(result.embedding, [rows, 2]));
        renameSync(partial, out);
      } finally {
        rmSync(partial, { force: true });
      }
      const steps = Object.entries(result.steps)
        .filter(([, count]) => count > 0)
        .map(([name, count]) => `${name} ${count}`)
        .join(' + ');
      console.log(
        `${options.out}: ${rows} x 2 (from ${rows} x ${columns}), KL ${result.klDivergence.toFixed(4)} after ${result.iterations} steps ` +
          `(${steps}; ${result.neighbors} neighbours) in ${((Date.now() - started) / 1000).toFixed(1)} s`,
      );
    });
}
