import { stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { parseLayerList } from '@strata/core/layers';
import { FeatureModel, parseExecutionProvider } from '@strata/core/model';
import { limitSource, openImageSource } from '@strata/core/sources';
import { ingestDataset, openStore, type IngestPhase } from '@strata/core/store';
import { createProgress, type ProgressReporter } from '../progress.js';
import { parseInteger } from '../parse.js';
import { DATA_OPTION, storeOptions } from './db.js';

interface IngestCommandOptions {
  images: string;
  name: string;
  model: string;
  layers: string;
  pca: string;
  sample: string;
  seed: string;
  dataset: string;
  limit?: string;
  batchSize: string;
  threads?: string;
  device: string;
  data?: string;
}

const PHASE_LABEL: Readonly<Record<IngestPhase, string>> = { sample: 'sample', fit: 'PCA', store: 'store', index: 'index' };


export function registerIngest(program: Command): void {
  program
    .command('ingest')
    .description('extract layers of an image set, reduce them with PCA and store the vectors for neighbour search; resumable')
    .requiredOption('--images <path>', 'an HDF5 file (N x H x W x 3 uint8) or a folder of JPEG/PNG/WebP/TIFF images')
    .requiredOption('--name <name>', 'dataset name in the store')
    .requiredOption('--model <file>', 'VGG16 ONNX file (see `strata model fetch vgg16` / `strata model synth`)')
    .requiredOption('--layers <list>', 'comma-separated layers, e.g. pool1,pool5 (see `strata layers`)')
    .option('--pca <n>', 'PCA components kept per layer (the stored vector size, at most 2000)', '256')
    .option('--sample <n>', 'most images in the PCA sample', '5000')
    .option('--seed <n>', 'seed of the PCA sample', '0')
    .option('--dataset <name>', 'HDF5 dataset holding the images', 'imgBrick')
    .option('--limit <n>', 'only the first N images')
    .option('--batch-size <n>', 'images per model pass and per committed batch', '8')
    .option('--threads <n>', 'inference threads (default: all cores)')
    .option('--device <name>', 'execution provider: cpu or cuda', 'cpu')
    .option(...DATA_OPTION)
    .action(async (options: IngestCommandOptions) => {
      const layers = parseLayerList(options.layers);
      const components = parseInteger(options.pca, '--pca', { min: 1 });
      const sampleSize = parseInteger(options.sample, '--sample', { min: 2 });
      const seed = parseInteger(options.seed, '--seed');
      const batchSize = parseInteger(options.batchSize, '--batch-size', { min: 1 });
      const limit = options.limit === undefined ? undefined : parseInteger(options.limit, '--limit', { min: 1 });
      const threads = options.threads === undefined ? undefined : parseInteger(options.threads, '--threads', { min: 1 });
      const imagesPath = resolve(options.images);
      const opened = await openImageSource(imagesPath, { dataset: options.dataset });
      const source = limit === undefined ? opened : limitSource(opened, limit);
      const kind = (await stat(imagesPath)).isDirectory() ? 'folder' : 'hdf5';
      let model: FeatureModel | undefined;
      let progress: ProgressReporter | undefined;
      let step: string | undefined;
      const store = await openStore(storeOptions(options));
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort(new Error('interrupted; run the same command again to continue')));
      try {
        model = await FeatureModel.load(options.model, { layers, executionProvider: parseExecutionProvider(options.device), threads });
        const summary = await ingestDataset({
          store,
          source,
          sourceInfo: { kind, path: imagesPath, ...(kind === 'hdf5' ? { dataset: options.dataset } : {}) },
          name: options.name,
          model,
          modelPath: options.model,
          layers,
          components,
          sampleSize,
          seed,
          batchSize,
          signal: abort.signal,
          onPhase: (phase, { total, done, layer }) => {
            step = undefined;
            progress?.stop();
            const label = `${PHASE_LABEL[phase]}${layer ? ` ${layer}` : ''}`;
            const unit = phase === 'sample' || phase === 'store' ? 'img' : 'step';
            progress = createProgress(label, total, unit, done);
          },
          onProgress: (p) => {
            if (p.step !== undefined && p.step !== step) {
              // The PCA fit goes through steps with their own units: one bar each.
              step = p.step;
              progress?.stop();
              progress = createProgress(`PCA ${p.layer ?? ''} ${p.step}`, p.total, 'step', p.done);
            }
            progress?.update(p.done, { rate: p.doneThisRun / Math.max(p.elapsedMs / 1000, 1e-3) });
          },
          onFailure: (failure) => process.stderr.write(`\nskipped ${failure.message}\n`),
        });
        progress?.stop();
        if (summary.alreadyComplete) {
          console.log(`dataset "${summary.dataset}" already holds ${summary.layers.map((l) => l.layer).join(', ')} (${summary.images} images); nothing to do`);
          return;
        }
        const seconds = summary.elapsedMs / 1000;
        console.log(
          `${summary.resumed ? 'continued an interrupted ingest; ' : ''}dataset "${summary.dataset}": ${summary.images} images in ${seconds.toFixed(1)} s` +
            (summary.failures > 0 ? `, ${summary.failures} unreadable (listed in the run's errors)` : ''),
        );
        for (const layer of summary.layers) {
          console.log(`  ${layer.layer}: ${layer.vectors} vectors x ${layer.components} (PCA keeps ${(100 * layer.explainedVariance).toFixed(1)}% of the variance)`);
        }
      } finally {
        progress?.stop();
        await model?.dispose();
        await source.close();
        await store.close();
      }
    });
}
