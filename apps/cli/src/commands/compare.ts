import type { Command } from 'commander';
import {
  ALTERNATIVES,
  ConstantRowError,
  compareLayers,
  correlateRdmWithLayers,
  DEFAULT_BRAIN_MAX_IMAGES,
  formatMetric,
  NonFiniteFeatureError,
  NpyFeatureSource,
  openLayerDirectory,
  parseKnnDistance,
  parseMetric,
  readIdsFile,
  readRdmFile,
  type Alternative,
  type CompareLayersOptions,
  type CompareProgress,
  type LayerMatrix,
} from '@strata/core/compare';
import { parseInteger } from '../parse.js';

interface CompareOptions {
  a?: string;
  b?: string;
  layerDir?: string;
  allLayers?: boolean;
  layers?: string;
  rdm?: string;
  ids?: string;
  metric: string;
  knnDistance: string;
  maxImages?: string;
  maxQueries?: string;
  permutations: string;
  alternative: string;
  seed: string;
  memory: string;
  csv?: boolean;
}

/** One line on stderr per step that takes a while, so a long comparison shows it is alive. */
function progressPrinter(): (progress: CompareProgress) => void {
  let lastStep = '';
  let lastAt = Date.now();
  return ({ step, done, total }) => {
    const now = Date.now();
    if (step === lastStep && now - lastAt < 5000) return;
    if (now - lastAt < 1000 && step !== lastStep) {
      lastStep = step;
      return;
    }
    lastStep = step;
    lastAt = now;
    process.stderr.write(`compare: ${step} (${done}/${total})\n`);
  };
}

function csvCell(text: string): string {
  return /[",\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text;
}

function printMatrix(result: LayerMatrix, csv: boolean): void {
  const n = result.layers.length;
  const rows = result.layers.map((_, a) => Array.from(result.values.subarray(a * n, a * n + n)));
  if (csv) {
    console.log(['layer', ...result.layers].map(csvCell).join(','));
    rows.forEach((row, a) => console.log([csvCell(result.layers[a] as string), ...row.map(String)].join(',')));
    return;
  }
  const { values: _values, ...rest } = result;
  console.log(JSON.stringify({ ...rest, metric: formatMetric({ metric: result.metric, k: result.k }), matrix: rows }));
}

function parseAlternative(value: string): Alternative {
  const found = ALTERNATIVES.find((a) => a === value);
  if (!found) throw new RangeError(`--alternative must be one of ${ALTERNATIVES.join(', ')}, got "${value}"`);
  return found;
}

/** Adds the image id to errors that name a row, since rows of DIR are images listed in images.json. */
function withImageIds(ids: readonly string[], run: () => void): void {
  try {
    run();
  } catch (error) {
    if ((error instanceof NonFiniteFeatureError || error instanceof ConstantRowError) && ids[error.row] !== undefined) {
      error.message = `${error.message} [row ${error.row} is image ${JSON.stringify(ids[error.row])}]`;
    }
    throw error;
  }
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description('compare layers (CKA, RSA, kNN overlap) of the same images, or correlate an external (brain) RDM with every layer')
    .option('--a <file.npy>', 'first feature matrix (N x D float32/float64 .npy); with --b')
    .option('--b <file.npy>', 'second feature matrix, same images in the same order')
    .option('--layer-dir <dir>', 'a folder written by `strata extract` (<layer>.npy + images.json)')
    .option('--all-layers', 'with --layer-dir: the layer x layer matrix of --metric')
    .option('--layers <list>', 'with --layer-dir: only these layers (comma-separated)')
    .option('--rdm <file>', 'external RDM (.csv with image ids as header row and first column, or .npy with --ids); correlated with every layer of --layer-dir')
    .option('--ids <file>', "the external RDM's image ids in matrix order (JSON array, images.json, or one per line)")
    .option('--metric <name>', 'cka, cka-debiased, rsa, knn or knn:K', 'cka')
    .option('--knn-distance <name>', 'kNN distance: cosine or euclidean', 'cosine')
    .option('--max-images <n>', 'rsa and --rdm: most images an RDM is built over (seeded sample above; default 2000)')
    .option('--max-queries <n>', 'knn: most images whose neighbourhoods are compared (seeded sample above; default 5000)')
    .option('--permutations <n>', 'with --rdm: label permutations for the p-value', '1000')
    .option('--alternative <name>', 'with --rdm: greater (rho above chance), less or two-sided', 'greater')
    .option('--seed <n>', 'seed of the image samples and permutations', '0')
    .option('--memory <MiB>', 'working-memory budget', '1024')
    .option('--csv', 'print CSV instead of JSON (matrix and --rdm table)')
    .action((options: CompareOptions) => {
      const spec = parseMetric(options.metric);
      const shared: Omit<CompareLayersOptions, 'metric'> = {
        k: spec.k,
        distance: parseKnnDistance(options.knnDistance),
        maxImages: options.maxImages === undefined ? undefined : parseInteger(options.maxImages, '--max-images', { min: 3 }),
        maxQueries: options.maxQueries === undefined ? undefined : parseInteger(options.maxQueries, '--max-queries', { min: 1 }),
        seed: parseInteger(options.seed, '--seed'),
        memoryBytes: parseInteger(options.memory, '--memory', { min: 16 }) * 2 ** 20,
        onProgress: progressPrinter(),
      };
      const pair = options.a !== undefined || options.b !== undefined;
      const modes = [pair, options.rdm !== undefined, options.allLayers === true].filter(Boolean).length;
      if (modes !== 1) {
        throw new RangeError('give exactly one of: --a A.npy --b B.npy, --rdm FILE --layer-dir DIR, or --layer-dir DIR --all-layers');
      }

      if (pair) {
        if (options.a === undefined || options.b === undefined) throw new RangeError('--a and --b go together: give both feature files');
        const a = new NpyFeatureSource(options.a);
        const b = new NpyFeatureSource(options.b);
        try {
          const result = compareLayers(
            [
              { name: options.a, features: a },
              { name: options.b, features: b },
            ],
            { ...shared, metric: spec.metric },
          );
          const { values, layers: _layers, metric: _metric, ...rest } = result;
          console.log(JSON.stringify({ metric: formatMetric(spec), value: values[1], ...rest }));
        } finally {
          a.close();
          b.close();
        }
        return;
      }

      if (options.layerDir === undefined) throw new RangeError(`${options.rdm !== undefined ? '--rdm' : '--all-layers'} needs --layer-dir DIR (written by \`strata extract\`)`);
      const only = options.layers?.split(',').map((name) => name.trim()).filter((name) => name !== '');
      const dir = openLayerDirectory(options.layerDir, only);
      try {
        withImageIds(dir.ids, () => {
          if (options.rdm === undefined) {
            printMatrix(compareLayers(dir.layers, { ...shared, metric: spec.metric }), options.csv === true);
            return;
          }
          // Sampling while reading keeps only the images used in memory; the same seed gives the same sample as the library.
          const rdm = readRdmFile(options.rdm, {
            ids: options.ids === undefined ? undefined : readIdsFile(options.ids),
            maxImages: shared.maxImages ?? DEFAULT_BRAIN_MAX_IMAGES,
            seed: shared.seed,
          });
          const result = correlateRdmWithLayers(rdm, dir.layers, dir.ids, {
            permutations: parseInteger(options.permutations, '--permutations'),
            alternative: parseAlternative(options.alternative),
            maxImages: shared.maxImages,
            seed: shared.seed,
            onProgress: shared.onProgress,
          });
          if (options.csv) {
            console.log('layer,rho,p');
            for (const row of result.layers) console.log(`${csvCell(row.layer)},${row.rho},${row.p}`);
            return;
          }
          const { ids, ...rest } = result;
          console.log(JSON.stringify({ rdm: options.rdm, images: ids.length, ...rest }));
        });
      } finally {
        dir.close();
      }
    });
}
