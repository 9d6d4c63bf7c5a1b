import { writeFileSync } from 'node:fs';
import type { Command } from 'commander';
import { fetchPretrainedVgg16, synthesizeVgg16, VGG16_ZOO_ARCHIVE } from '@strata/core/model';
import { createProgress } from '../progress.js';
import { parseInteger } from '../parse.js';

export function registerModel(program: Command): void {
  const model = program.command('model').description('get a VGG16 ONNX model: pretrained download, or a synthetic one for offline use');

  model
    .command('fetch')
    .argument('<name>', 'model name; only "vgg16" is known')
    .description('download pretrained VGG16 (ONNX Model Zoo vgg16-7), checksummed, resumable, cached')
    .option('--cache <dir>', 'cache directory (default: $STRATA_CACHE_DIR/models or ~/.cache/strata/models)')
    .option('--mirror <url>', 'download the same archive from a mirror (size and sha256 are still checked)')
    .action(async (name: string, options: { cache?: string; mirror?: string }) => {
      if (name !== 'vgg16') throw new RangeError(`unknown model "${name}"; expected "vgg16"`);
      let progress: ReturnType<typeof createProgress> | undefined;
      let currentPhase = '';
      let phaseStartedAt = Date.now();
      const path = await fetchPretrainedVgg16({
        cacheDir: options.cache,
        source: options.mirror === undefined ? VGG16_ZOO_ARCHIVE : { ...VGG16_ZOO_ARCHIVE, url: options.mirror },
        onProgress: ({ phase, bytes, totalBytes }) => {
          if (phase !== currentPhase) {
            progress?.stop();
            currentPhase = phase;
            phaseStartedAt = Date.now();
            progress = createProgress(phase, Math.round(totalBytes / 1e6), 'MB');
          }
          const seconds = (Date.now() - phaseStartedAt) / 1000;
          progress?.update(Math.round(bytes / 1e6), { rate: bytes / 1e6 / Math.max(seconds, 1e-3) });
        },
      });
      progress?.stop();
      console.log(path);
    });

  model
    .command('synth')
    .description('write a deterministic VGG16-topology ONNX with seeded weights (for offline use and tests)')
    .requiredOption('--out <file>', 'where to write the .onnx file')
    .option('--seed <n>', 'seed of the weight initialisation', '0')
    .option('--full', 'include the classifier (as a full vgg16() export would)')
    .action((options: { out: string; seed: string; full?: boolean }) => {
      const bytes = synthesizeVgg16({ seed: parseInteger(options.seed, '--seed'), includeClassifier: options.full ?? false });
      writeFileSync(options.out, bytes);
      console.log(`wrote ${options.out} (${(bytes.length / 1e6).toFixed(1)} MB, seed ${options.seed})`);
    });
}
