import type { Command } from 'commander';
import {
  ALTERNATIVES,
  ConstantRowError,
  compareDatasetLayers,
  compareLayers,
  correlateBrainRdm,
  correlateRdmWithLayers,
  DEFAULT_BRAIN_MAX_IMAGES,
  formatMetric,
  layerSimilarityMatrix,
  NonFiniteFeatureError,
  NpyFeatureSource,
  openLayerDirectory,
  parseKernel,
  parseKnnDistance,
  parseMetric,
  readIdsFile,
  readRdmFile,
  type Alternative,
  type CompareLayersOptions,
  type CompareProgress,
  type ComparisonMetric,
  type ExternalRdm,
} from '@strata/core/compare';
import { openStore } from '@strata/core/store';
import { parseInteger } from '../parse.js';
import { DATA_OPTION, storeOptions } from './db.js';

interface CompareOptions {
  dataset?: string;
  data?: string;
  recompute?: boolean;
  kernel: string;
  a?: string;
  b?: string;
  layerDir?: string;
  allLayers?: boolean;
  layers?: string;
  rdm?: string;
  ids?: string;
  metric?: string;
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

/** A matrix as printed: the library's (metric 'knn') or the store's (metric 'knn:K'). */
interface PrintedMatrix {
  readonly layers: readonly string[];
  readonly values: Float64Array;
  readonly metric: string;
  readonly k?: number;
}

function printMatrix(result: PrintedMatrix, csv: boolean): void {
  const n = result.layers.length;
  const rows = result.layers.map((_, a) => Array.from(result.values.subarray(a * n, a * n + n)));
  if (csv) {
    console.log(['layer', ...result.layers].map(csvCell).join(','));
    rows.forEach((row, a) => console.log([csvCell(result.layers[a] as string), ...row.map(String)].join(',')));
    return;
  }
  const { values: _values, ...rest } = result;
  console.log(JSON.stringify({ ...rest, metric: formatMetric({ metric: parseMetric(result.metric).metric, k: result.k }), matrix: rows }));
}

function parseAlternative(value: string): Alternative {
  const found = ALTERNATIVES.find((a) => a === value);
  if (!found) throw new RangeError(`--alternative must be one of ${ALTERNATIVES.join(', ')}, got "${value}"`);
  return found;
}

/** Adds the image id to errors that name a row, since rows of DIR are images listed in images.json. */
async function withImageIds(ids: readonly string[], run: () => Promise<void>): Promise<void> {
  try {
    await run();
  } catch (error) {
    if ((error instanceof NonFiniteFeatureError || error instanceof ConstantRowError) && ids[error.row] !== undefined) {
      error.message = `${error.message} [row ${error.row} is image ${JSON.stringify(ids[error.row])}]`;
    }
    throw error;
  }
}

/** Reads --rdm (with --ids), sampling while reading as the library would. */
function readRdm(options: CompareOptions, maxImages: number | undefined, seed: number): ExternalRdm {
  return readRdmFile(options.rdm as string, {
    ids: options.ids === undefined ? undefined : readIdsFile(options.ids),
    maxImages: maxImages ?? DEFAULT_BRAIN_MAX_IMAGES,
    seed,
  });
}

function printRdmTable(rows: readonly { layer: string; rho: number; p: number | null }[]): void {
  console.log('layer,rho,p');
  for (const row of rows) console.log(`${csvCell(row.layer)},${row.rho},${row.p ?? ''}`);
}

/** The --dataset forms: comparisons of an ingested dataset's stored PCA vectors, stored and reused. */
async function compareDataset(dataset: string, options: CompareOptions, shared: Omit<CompareLayersOptions, 'metric'>): Promise<void> {
  const pair = options.a !== undefined || options.b !== undefined;
  const modes = [pair, options.rdm !== undefined, options.allLayers === true].filter(Boolean).length;
  if (modes !== 1) throw new RangeError('with --dataset give exactly one of: --a LAYER --b LAYER, --all-layers, or --rdm FILE');
  if (options.layerDir !== undefined) throw new RangeError('--dataset and --layer-dir exclude each other: compare stored layers or a `strata extract` folder');
  const common = {
    dataset,
    seed: shared.seed,
    memoryBytes: shared.memoryBytes,
    kernel: shared.kernel,
    recompute: options.recompute === true,
    onProgress: shared.onProgress,
  };
  const pairOptions = { distance: shared.distance, maxImages: shared.maxImages, maxQueries: shared.maxQueries };
  const layers = options.layers?.split(',').map((name) => name.trim()).filter((name) => name !== '');
  // Read the RDM before opening the store: a bad file is reported without touching the database.
  const rdm = options.rdm === undefined ? undefined : readRdm(options, shared.maxImages, shared.seed ?? 0);
  const store = await openStore(storeOptions(options));
  try {
    if (pair) {
      if (options.a === undefined || options.b === undefined) throw new RangeError('--a and --b go together: give both layer names');
      // Default: all three; --metric cka,knn:20 picks some (knn:K sets k).
      const specs = (options.metric ?? 'cka,rsa,knn').split(',').map((text) => parseMetric(text));
      const k = specs.find((spec) => spec.metric === 'knn')?.k;
      const result = await compareDatasetLayers(store, {
        ...common,
        ...pairOptions,
        k,
        layerA: options.a,
        layerB: options.b,
        metrics: specs.map((spec) => spec.metric as ComparisonMetric),
      });
      const reused = result.results.filter((r) => r.reused).length;
      process.stderr.write(`compare: ${reused} of ${result.results.length} result(s) reused from the store\n`);
      if (options.csv) {
        console.log('metric,value,images_used,exact,reused');
        for (const r of result.results) console.log(`${r.metric},${r.value},${r.imagesUsed},${r.exact},${r.reused}`);
        return;
      }
      const { results, ...values } = result;
      console.log(JSON.stringify({ ...values, results: results.map(({ metric, value, imagesUsed, exact, reused: fromStore }) => ({ metric, value, imagesUsed, exact, reused: fromStore })) }));
      return;
    }
    if (rdm !== undefined) {
      const result = await correlateBrainRdm(store, {
        ...common,
        rdm,
        layers,
        permutations: parseInteger(options.permutations, '--permutations'),
        alternative: parseAlternative(options.alternative),
        maxImages: shared.maxImages,
      });
      const reused = result.layers.filter((l) => l.reused).length;
      process.stderr.write(`compare: ${reused} of ${result.layers.length} layer(s) reused from the store\n`);
      if (options.csv) {
        printRdmTable(result.layers);
        return;
      }
      console.log(JSON.stringify(result));
      return;
    }
    const spec = parseMetric(options.metric ?? 'cka');
    const result = await layerSimilarityMatrix(store, { ...common, ...pairOptions, metric: formatMetric(spec), layers });
    process.stderr.write(`compare: ${result.reusedPairs} of ${result.reusedPairs + result.computedPairs} layer pair(s) reused from the store\n`);
    printMatrix(result, options.csv === true);
  } finally {
    await store.close();
  }
}

export function registerCompare(program: Command): void {
  program
    .command('compare')
    .description(
      'compare layers (CKA, RSA, kNN overlap) of the same images, or correlate an external (brain) RDM with every layer: ' +
        'of an ingested dataset (--dataset; results are stored and reused) or of feature files',
    )
    .option('--dataset <name>', 'an ingested dataset (`strata ingest --name`): compare its stored PCA vectors')
    .option('--a <layer|file.npy>', 'first layer (with --dataset) or feature matrix (N x D float32/float64 .npy); with --b')
    .option('--b <layer|file.npy>', 'second layer or feature matrix, same images in the same order')
    .option('--layer-dir <dir>', 'a folder written by `strata extract` (<layer>.npy + images.json)')
    .option('--all-layers', 'the layer x layer matrix of --metric (with --dataset or --layer-dir)')
    .option('--layers <list>', 'only these layers (comma-separated); default: every (ready) layer')
    .option('--rdm <file>', 'external RDM (.csv with image ids as header row and first column, or .npy with --ids); correlated with every layer')
    .option('--ids <file>', "the external RDM's image ids in matrix order (JSON array, images.json, or one per line)")
    .option('--metric <name>', 'cka, cka-debiased, rsa, knn or knn:K (default cka; with --dataset --a --b: a comma-separated list, default cka,rsa,knn)')
    .option('--knn-distance <name>', 'kNN distance: cosine or euclidean', 'cosine')
    .option('--max-images <n>', 'rsa and --rdm: most images an RDM is built over (seeded sample above; default 2000)')
    .option('--max-queries <n>', 'knn: most images whose neighbourhoods are compared (seeded sample above; default 5000)')
    .option('--permutations <n>', 'with --rdm: label permutations for the p-value', '1000')
    .option('--alternative <name>', 'with --rdm: greater (rho above chance), less or two-sided', 'greater')
    .option('--seed <n>', 'seed of the image samples and permutations', '0')
    .option('--memory <MiB>', 'working-memory budget', '1024')
    .option('--kernel <name>', 'cka and knn products: auto, onnxruntime (float32 products, float64 sums) or float64', 'auto')
    .option('--recompute', 'with --dataset: compute again even when the store holds a current result')
    .option('--csv', 'print CSV instead of JSON (matrix, --rdm table, --dataset pair)')
    .option(...DATA_OPTION)
    .action(async (options: CompareOptions) => {
      const shared: Omit<CompareLayersOptions, 'metric'> = {
        distance: parseKnnDistance(options.knnDistance),
        maxImages: options.maxImages === undefined ? undefined : parseInteger(options.maxImages, '--max-images', { min: 3 }),
        maxQueries: options.maxQueries === undefined ? undefined : parseInteger(options.maxQueries, '--max-queries', { min: 1 }),
        seed: parseInteger(options.seed, '--seed'),
        memoryBytes: parseInteger(options.memory, '--memory', { min: 16 }) * 2 ** 20,
        kernel: parseKernel(options.kernel),
        onProgress: progressPrinter(),
      };
      if (options.dataset !== undefined) {
        await compareDataset(options.dataset, options, shared);
        return;
      }
      if (options.recompute) throw new RangeError('--recompute goes with --dataset (file comparisons are never stored)');
      const spec = parseMetric(options.metric ?? 'cka');
      const pair = options.a !== undefined || options.b !== undefined;
      const modes = [pair, options.rdm !== undefined, options.allLayers === true].filter(Boolean).length;
      if (modes !== 1) {
        throw new RangeError('give exactly one of: --a A.npy --b B.npy, --rdm FILE --layer-dir DIR, or --layer-dir DIR --all-layers (or --dataset NAME with --a/--b, --all-layers or --rdm)');
      }
      const withK = { ...shared, k: spec.k };

      if (pair) {
        if (options.a === undefined || options.b === undefined) throw new RangeError('--a and --b go together: give both feature files');
        const a = new NpyFeatureSource(options.a);
        const b = new NpyFeatureSource(options.b);
        try {
          const result = await compareLayers(
            [
              { name: options.a, features: a },
              { name: options.b, features: b },
            ],
            { ...withK, metric: spec.metric },
          );
          const { values, layers: _layers, metric: _metric, ...rest } = result;
          console.log(JSON.stringify({ metric: formatMetric(spec), value: values[1], ...rest }));
        } finally {
          a.close();
          b.close();
        }
        return;
      }

      if (options.layerDir === undefined) {
        throw new RangeError(`${options.rdm !== undefined ? '--rdm' : '--all-layers'} needs --layer-dir DIR (written by \`strata extract\`) or --dataset NAME (ingested)`);
      }
      const only = options.layers?.split(',').map((name) => name.trim()).filter((name) => name !== '');
      const dir = openLayerDirectory(options.layerDir, only);
      try {
        await withImageIds(dir.ids, async () => {
          if (options.rdm === undefined) {
            printMatrix(await compareLayers(dir.layers, { ...withK, metric: spec.metric }), options.csv === true);
            return;
          }
          // Sampling while reading keeps only the images used in memory; the same seed gives the same sample as the library.
          const rdm = readRdm(options, shared.maxImages, shared.seed ?? 0);
          const result = await correlateRdmWithLayers(rdm, dir.layers, dir.ids, {
            permutations: parseInteger(options.permutations, '--permutations'),
            alternative: parseAlternative(options.alternative),
            maxImages: shared.maxImages,
            seed: shared.seed,
            onProgress: shared.onProgress,
          });
          if (options.csv) {
            printRdmTable(result.layers);
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
