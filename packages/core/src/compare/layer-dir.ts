/**
 * The output folder of `strata extract` (DIR/<layer>.npy + DIR/images.json) opened for
 * comparison: the image ids of the rows and one FeatureSource per layer, in network order.
 * Nothing is loaded until a metric asks for blocks.
 */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { LAYERS } from '../layers.js';
import { NpyFeatureSource } from './npy-source.js';

export interface LayerDirectory {
  readonly dir: string;
  /** Image id of each row (images.json "rows"). */
  readonly ids: readonly string[];
  /** Layers found, in network order (conv1 ... pool5). */
  readonly layers: readonly { readonly name: string; readonly path: string; readonly features: NpyFeatureSource }[];
  close(): void;
}

interface ImagesJson {
  rows?: { id?: unknown }[];
  layers?: { name?: unknown; file?: unknown }[];
}

/** Opens DIR; `only` restricts to some layers (an error names any that DIR lacks). */
export function openLayerDirectory(dir: string, only?: readonly string[]): LayerDirectory {
  const indexPath = join(dir, 'images.json');
  if (!existsSync(indexPath)) {
    throw new TypeError(`${dir}: no images.json; expected a folder written by \`strata extract\` (<layer>.npy + images.json), finished`);
  }
  let index: ImagesJson;
  try {
    index = JSON.parse(readFileSync(indexPath, 'utf8')) as ImagesJson;
  } catch (error) {
    throw new TypeError(`${indexPath}: not valid JSON (${error instanceof Error ? error.message : String(error)})`);
  }
  if (!Array.isArray(index.rows) || !Array.isArray(index.layers)) throw new TypeError(`${indexPath}: expected "rows" and "layers" arrays as written by strata extract`);
  const ids = index.rows.map((row, i) => {
    if (typeof row?.id !== 'string' && typeof row?.id !== 'number') throw new TypeError(`${indexPath}: rows[${i}] has no id`);
    return String(row.id);
  });
  const listed = new Map<string, string>();
  for (const layer of index.layers) {
    if (typeof layer?.name === 'string') listed.set(layer.name, typeof layer.file === 'string' ? layer.file : `${layer.name}.npy`);
  }
  const order = new Map(LAYERS.map((layer, i) => [layer.name, i]));
  const wanted = only ?? [...listed.keys()];
  for (const name of wanted) {
    if (!listed.has(name)) throw new RangeError(`${dir} has no layer "${name}"; it holds ${[...listed.keys()].join(', ') || 'none'}`);
  }
  const names = [...wanted].sort((a, b) => (order.get(a) ?? 99) - (order.get(b) ?? 99));
  const opened: { name: string; path: string; features: NpyFeatureSource }[] = [];
  try {
    for (const name of names) {
      const path = join(dir, listed.get(name) as string);
      const features = new NpyFeatureSource(path);
      opened.push({ name, path, features });
      if (features.rows !== ids.length) {
        throw new RangeError(`${path}: ${features.rows} rows but images.json lists ${ids.length} images; was the extraction interrupted? Rerun it to finish`);
      }
    }
  } catch (error) {
    for (const layer of opened) layer.features.close();
    throw error;
  }
  return {
    dir,
    ids,
    layers: opened,
    close: () => {
      for (const layer of opened) layer.features.close();
    },
  };
}
