import type { Command } from 'commander';
import { LAYERS } from '@strata/core/layers';

export function registerLayers(program: Command): void {
  program
    .command('layers')
    .description('print the VGG16 layer catalog: name, features index, shape, flattened size')
    .option('--json', 'print JSON instead of a table')
    .action((options: { json?: boolean }) => {
      if (options.json) {
        console.log(JSON.stringify(LAYERS, null, 2));
        return;
      }
      const rows = LAYERS.map((layer) => [
        layer.name,
        layer.kind,
        String(layer.featuresIndex),
        layer.shape.join('x'),
        layer.dimension.toLocaleString('en-US'),
        layer.cumulativeGflops.toFixed(2),
      ]);
      const header = ['layer', 'kind', 'features[i]', 'shape (CxHxW)', 'dimension', 'GFLOP to here'];
      const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => (row[i] as string).length)));
      const format = (cells: string[]): string => cells.map((cell, i) => cell.padEnd(widths[i] as number)).join('  ');
      console.log(format(header));
      for (const row of rows) console.log(format(row));
    });
}
