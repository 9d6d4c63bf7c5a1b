import type { Command } from 'commander';
import { openStore, parseMetric } from '@strata/core/store';
import { parseInteger } from '../parse.js';
import { DATA_OPTION, storeOptions } from './db.js';

interface NeighborsOptions {
  dataset: string;
  layer: string;
  image: string;
  k: string;
  metric: string;
  exact?: boolean;
  rerank?: boolean;
  efSearch?: string;
  json?: boolean;
  data?: string;
}

export function registerNeighbors(program: Command): void {
  program
    .command('neighbors')
    .description("an image's nearest neighbours in one layer of an ingested dataset (HNSW index; --exact scans)")
    .requiredOption('--dataset <name>', 'dataset name given to `strata ingest --name`')
    .requiredOption('--layer <name>', 'an ingested layer, e.g. pool5')
    .requiredOption('--image <id>', "the image's id: its row number in an HDF5 brick, its relative path in a folder")
    .option('-k <n>', 'how many neighbours', '10')
    .option('--metric <name>', 'cosine or l2', 'cosine')
    .option('--exact', 'exact search (scans every vector; for checking the index)')
    .option('--rerank', 'take 4k candidates from the index and re-rank them by exact distance')
    .option('--ef-search <n>', 'HNSW candidate list (default max(40, 2 x candidates))')
    .option('--json', 'print JSON')
    .option(...DATA_OPTION)
    .action(async (options: NeighborsOptions) => {
      const k = parseInteger(options.k, '-k', { min: 1 });
      const metric = parseMetric(options.metric);
      if (options.exact && options.rerank) throw new RangeError('--exact and --rerank exclude each other');
      const efSearch = options.efSearch === undefined ? undefined : parseInteger(options.efSearch, '--ef-search', { min: 1 });
      const store = await openStore(storeOptions(options));
      try {
        const result = await store.nearest({
          dataset: options.dataset,
          layer: options.layer,
          image: { sourceId: options.image },
          k,
          metric,
          mode: options.exact ? 'exact' : options.rerank ? 'rerank' : 'hnsw',
          efSearch,
        });
        if (options.json) {
          console.log(JSON.stringify(result, null, 1));
          return;
        }
        const notes = [
          !result.layerReady ? 'layer not fully ingested yet' : '',
          result.mode !== 'exact' && !result.indexed ? `no ${metric} index: exact scan` : '',
          result.usedExactFallback ? 'the index search missed the image itself: answered by exact search' : '',
        ]
          .filter((note) => note !== '')
          .join('; ');
        console.log(`${result.neighbors.length} nearest to image ${options.image} in ${options.dataset}/${options.layer} (${metric}, ${result.mode})${notes ? ` [${notes}]` : ''}`);
        console.log('rank  id                      distance');
        result.neighbors.forEach((neighbor, i) => {
          console.log(`${String(i + 1).padStart(4)}  ${neighbor.image.sourceId.padEnd(22)}  ${neighbor.distance.toFixed(6)}`);
        });
      } finally {
        await store.close();
      }
    });
}
