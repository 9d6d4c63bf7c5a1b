import type { Command } from 'commander';
import { extractToDirectory } from '@strata/core/extract';
import { parseLayerList } from '@strata/core/layers';
import { FeatureModel, parseExecutionProvider } from '@strata/core/model';
import { limitSource, openImageSource } from '@strata/core/sources';
import { createProgress } from '../progress.js';
import { parseInteger, parseSeconds } from '../parse.js';

interface ExtractOptions {
  model: string;
  images: string;
  dataset: string;
  limit?: string;
  layers: string;
  out: string;
  batchSize: string;
  threads?: string;
  device: string;
  checkpointInterval: string;
  stopOnError?: boolean;
  overwrite?: boolean;
}

export function registerExtract(program: Command): void {
  program
    .command('extract')
    .description('extract VGG16 layer activations to DIR/<layer>.npy (float32, N x D) and DIR/images.json; resumable')
    .requiredOption('--model <file>', 'VGG16 ONNX file (see `strata model fetch vgg16` / `strata model synth`)')
    .requiredOption('--images <path>', 'an HDF5 file (N x H x W x 3 uint8) or a folder of JPEG/PNG/WebP/TIFF images')
    .option('--dataset <name>', 'HDF5 dataset holding the images', 'imgBrick')
    .option('--limit <n>', 'only the first N images')
    .requiredOption('--layers <list>', 'comma-separated layers, e.g. pool1,pool5, or "all" (see `strata layers`)')
    .requiredOption('--out <dir>', 'output folder')
    .option('--batch-size <n>', 'images per model pass (small batches keep early layers in cache on CPUs)', '2')
    .option('--threads <n>', 'inference threads (default: all cores)')
    .option('--device <name>', 'execution provider: cpu or cuda', 'cpu')
    .option('--checkpoint-interval <seconds>', 'most seconds of work a crash can lose', '1')
    .option('--stop-on-error', 'stop at the first unreadable image instead of skipping it')
    .option('--overwrite', 'replace a different earlier extraction in --out')
    .action(async (options: ExtractOptions) => {
      const layers = parseLayerList(options.layers);
      const opened = await openImageSource(options.images, { dataset: options.dataset });
      const source = options.limit === undefined ? opened : limitSource(opened, parseInteger(options.limit, '--limit', { min: 1 }));
      const model = await FeatureModel.load(options.model, {
        layers,
        executionProvider: parseExecutionProvider(options.device),
        threads: options.threads === undefined ? undefined : parseInteger(options.threads, '--threads', { min: 1 }),
      });
      const progress = createProgress('extract', source.size, 'img');
      const abort = new AbortController();
      process.once('SIGINT', () => abort.abort(new Error('interrupted; rerun the same command to continue')));
      try {
        const summary = await extractToDirectory({
          source,
          model,
          modelSha256: model.sha256,
          outDir: options.out,
          batchSize: parseInteger(options.batchSize, '--batch-size', { min: 1 }),
          checkpointIntervalMs: parseSeconds(options.checkpointInterval, '--checkpoint-interval') * 1000,
          onBadImage: options.stopOnError ? 'stop' : 'skip',
          overwrite: options.overwrite,
          signal: abort.signal,
          onProgress: (p) =>
            progress.update(p.done, {
              rate: p.doneThisRun / Math.max(p.elapsedMs / 1000, 1e-3),
              note: p.failures > 0 ? `${p.failures} bad` : undefined,
            }),
          onFailure: (failure) => process.stderr.write(`\nskipped ${failure.message}\n`),
        });
        progress.stop();
        if (summary.alreadyComplete) {
          console.log(`${options.out} already holds this extraction (${summary.rows} images); nothing to do`);
          return;
        }
        const seconds = summary.elapsedMs / 1000;
        console.log(
          `${summary.resumed ? 'continued an interrupted run; ' : ''}${summary.rows} images x ${layers.length} layer(s) in ${seconds.toFixed(1)} s` +
            (summary.failures.length > 0 ? `, ${summary.failures.length} skipped (listed in images.json)` : ''),
        );
        for (const file of summary.files) console.log(`  ${file}`);
      } finally {
        progress.stop();
        await model.dispose();
        await source.close();
      }
    });
}
