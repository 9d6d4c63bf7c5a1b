import { Command, CommanderError } from 'commander';
import { registerCompare } from './commands/compare.js';
import { registerDb } from './commands/db.js';
import { registerExtract } from './commands/extract.js';
import { registerIngest } from './commands/ingest.js';
import { registerLayers } from './commands/layers.js';
import { registerMap } from './commands/map.js';
import { registerModel } from './commands/model.js';
import { registerAtlas, registerMosaic } from './commands/mosaic.js';
import { registerNeighbors } from './commands/neighbors.js';
import { registerPca } from './commands/pca.js';
import { registerServe } from './commands/serve.js';
import { registerTsne } from './commands/tsne.js';

const program = new Command()
  .name('strata')
  .description('How a convolutional network sees an image set: VGG16 activations from HDF5 bricks and photo folders.')
  .showHelpAfterError()
  .exitOverride();

registerLayers(program);
registerModel(program);
registerExtract(program);
registerCompare(program);
registerMosaic(program);
registerAtlas(program);
registerPca(program);
registerIngest(program);
registerNeighbors(program);
registerTsne(program);
registerMap(program);
registerDb(program);
registerServe(program);

try {
  await program.parseAsync(process.argv);
} catch (error) {
  if (error instanceof CommanderError) process.exit(error.exitCode);
  // Expected failures (bad input, missing files) get one clear line, not a stack trace.
  const message = error instanceof Error ? error.message : String(error);
  process.stderr.write(`strata: ${message}\n`);
  if (process.env.STRATA_DEBUG && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
  process.exit(1);
}
