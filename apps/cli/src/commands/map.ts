import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { buildDatasetAtlas, computeMap, renderStoredMosaic, type MapRecord } from '@strata/core/maps';
import { openStore } from '@strata/core/store';
import type { TsneProgress } from '@strata/core/tsne';
import { createProgress, type ProgressReporter } from '../progress.js';
import { parseInteger } from '../parse.js';
import { DATA_OPTION, storeOptions } from './db.js';
import { parsePerplexity, parseTsneMethod } from './tsne.js';

interface MapCommandOptions {
  dataset: string;
  layer: string;
  perplexity: string;
  seed: string;
  iterations: string;
  method: string;
  threads?: string;
  mosaic?: string | boolean;
  grid?: boolean;
  width: string;
  height: string;
  tile: string;
  atlas?: boolean;
  images?: string;
  workers?: string;
  json?: boolean;
  data?: string;
}

/** A bar over the gradient steps with the latest KL; a line for the phases before. */
function mapProgress(): { update(progress: TsneProgress): void; stop(): void } {
  let phase = '';
  let bar: ProgressReporter | undefined;
  let started = 0;
  let kl: number | undefined;
  return {
    update(progress) {
      if (progress.phase !== phase) {
        phase = progress.phase;
        if (bar === undefined && (phase === 'exaggeration' || phase === 'embedding')) {
          bar = createProgress('t-SNE', progress.total, 'it');
          started = Date.now();
        } else if (bar === undefined) {
          process.stderr.write(`t-SNE: ${phase}\n`);
        }
      }
      if (bar === undefined) return;
      if (progress.kl !== undefined) kl = progress.kl;
      const done = progress.iteration + 1;
      bar.update(done, { rate: done / Math.max((Date.now() - started) / 1000, 1e-3), note: kl === undefined ? phase : `${phase}, KL ${kl.toFixed(4)}` });
    },
    stop: () => bar?.stop(),
  };
}

function describeMap(map: MapRecord, computed: boolean): string {
  const when = computed ? `computed in ${(map.details.timings?.total ?? 0).toFixed(1)} s` : `stored, computed ${map.finishedAt?.toISOString() ?? map.createdAt.toISOString()}`;
  return (
    `map ${map.id} of ${map.dataset}/${map.layer} (perplexity ${map.perplexity}, seed ${map.seed}, ${map.iterations} iterations, ${map.method}): ` +
    `${map.pointCount} images, KL ${map.klDivergence?.toFixed(4) ?? '-'}; ${when}`
  );
}

export function registerMap(program: Command): void {
  program
    .command('map')
    .description('t-SNE map of an ingested dataset layer, kept in the store (computed once per parameter set); optionally its image mosaic and atlas')
    .requiredOption('--dataset <name>', 'dataset name given to `strata ingest --name`')
    .requiredOption('--layer <name>', 'an ingested layer, e.g. pool5')
    .option('--perplexity <p>', 'perplexity; needs more images than this', '30')
    .option('--seed <n>', 'seed', '0')
    .option('--iterations <n>', 'gradient steps, early exaggeration included', '1000')
    .option('--method <name>', 'repulsion: auto, exact, bh, fft or hybrid', 'auto')
    .option('--threads <n>', 't-SNE threads (default: all cores); the map is the same for any count')
    .option('--mosaic [file]', 'render the image mosaic to this PNG (default <data>/maps/<id>/mosaic.png)')
    .option('--grid', 'mosaic on a grid, one image per cell')
    .option('--width <px>', 'mosaic width', '4000')
    .option('--height <px>', 'mosaic height', '3000')
    .option('--tile <px>', 'longest side of each image on the mosaic', '100')
    .option('--atlas', "build the dataset's thumbnail atlas for the browser map (kept: built once)")
    .option('--images <path>', 'where the images are now, when they moved since `strata ingest`')
    .option('--workers <n>', 'threads resizing images (default: one per core, at most 8)')
    .option('--json', 'print the map (without its points) and the file locations as JSON')
    .option(...DATA_OPTION)
    .action(async (options: MapCommandOptions) => {
      const perplexity = parsePerplexity(options.perplexity);
      const seed = parseInteger(options.seed, '--seed');
      const iterations = parseInteger(options.iterations, '--iterations', { min: 1 });
      const method = parseTsneMethod(options.method);
      const threads = options.threads === undefined ? undefined : parseInteger(options.threads, '--threads', { min: 1 });
      const workers = options.workers === undefined ? undefined : parseInteger(options.workers, '--workers', { min: 0 });
      const mosaicSize = {
        width: parseInteger(options.width, '--width', { min: 1 }),
        height: parseInteger(options.height, '--height', { min: 1 }),
        tile: parseInteger(options.tile, '--tile', { min: 1 }),
      };
      if (options.grid && options.mosaic === undefined) throw new RangeError('--grid needs --mosaic');
      const store = await openStore(storeOptions(options));
      const abort = new AbortController();
      const onInterrupt = (): void => abort.abort(new Error('interrupted; run the same command again to compute the map'));
      process.once('SIGINT', onInterrupt);
      const progress = mapProgress();
      try {
        let computed = false;
        let map = await computeMap(store, {
          dataset: options.dataset,
          layer: options.layer,
          perplexity,
          seed,
          iterations,
          method,
          ...(threads === undefined ? {} : { threads }),
          signal: abort.signal,
          onProgress: (p) => {
            computed = true;
            progress.update(p);
          },
        });
        progress.stop();
        const lines = [describeMap(map, computed)];
        const files: { mosaic?: string; atlas?: string } = {};
        const source = options.images === undefined ? {} : { source: options.images };
        if (options.mosaic !== undefined) {
          const bar = createProgress('mosaic', map.pointCount, 'img');
          const started = Date.now();
          try {
            const result = await renderStoredMosaic(store, map.id, {
              ...mosaicSize,
              ...source,
              ...(typeof options.mosaic === 'string' ? { outPath: options.mosaic } : {}),
              ...(options.grid ? { grid: true } : {}),
              ...(workers === undefined ? {} : { workers }),
              signal: abort.signal,
              onProgress: (p) => {
                if (p.phase === 'tiles') bar.update(p.done, { rate: p.done / Math.max((Date.now() - started) / 1000, 1e-3) });
              },
            });
            map = result.map;
            files.mosaic = result.path;
            for (const failure of result.failures) process.stderr.write(`skipped ${failure.message}\n`);
            lines.push(
              `mosaic: ${result.path} (${result.width} x ${result.height}, ${result.placed} images${result.grid ? `, ${result.grid.cols} x ${result.grid.rows} grid` : ''}` +
                `${result.failures.length > 0 ? `, ${result.failures.length} unreadable` : ''})`,
            );
          } finally {
            bar.stop();
          }
        } else if (map.mosaicPath !== undefined) {
          lines.push(`mosaic: ${map.mosaicPath} (rendered earlier)`);
        }
        if (options.atlas) {
          if (map.atlasDir !== undefined && existsSync(join(map.atlasDir, 'atlas.json'))) {
            lines.push(`atlas: ${join(map.atlasDir, 'atlas.json')} (built earlier)`);
            files.atlas = map.atlasDir;
          } else {
            const bar = createProgress('atlas', map.pointCount, 'img');
            const started = Date.now();
            try {
              const atlas = await buildDatasetAtlas(store, map.dataset, {
                ...source,
                ...(workers === undefined ? {} : { workers }),
                signal: abort.signal,
                onProgress: (p) => bar.update(p.done, { rate: p.done / Math.max((Date.now() - started) / 1000, 1e-3), note: `${p.sheetsWritten} sheets` }),
              });
              files.atlas = atlas.atlasDir;
              lines.push(`atlas: ${atlas.indexFile} (${atlas.images} images in ${atlas.sheets.length} sheets${atlas.failures > 0 ? `, ${atlas.failures} unreadable` : ''})`);
            } finally {
              bar.stop();
            }
          }
        } else if (map.atlasDir !== undefined) {
          lines.push(`atlas: ${join(map.atlasDir, 'atlas.json')}`);
        }
        if (options.json) {
          const { imageIds: _ids, x: _x, y: _y, ...summary } = map;
          console.log(JSON.stringify({ ...summary, computed, ...(files.mosaic ? { mosaicPath: files.mosaic } : {}), ...(files.atlas ? { atlasDir: files.atlas } : {}) }, null, 1));
        } else {
          for (const line of lines) console.log(line);
        }
      } finally {
        progress.stop();
        process.removeListener('SIGINT', onInterrupt);
        await store.close();
      }
    });
}
