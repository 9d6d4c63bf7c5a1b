/**
 * similarImages: an image that is not in a dataset, through the dataset's model and a layer's
 * stored PCA basis, then searched like a stored one. Runs in the API process, since it is one
 * image: decoding (sharp) and inference (onnxruntime) run off the event loop on their own
 * threads. A few at a time (STRATA_SIMILAR_CONCURRENCY), a bounded number waiting, the rest
 * refused with TOO_MANY_REQUESTS. Models and bases stay loaded for the next request (two of each).
 */
import { join, isAbsolute } from 'node:path';
import { getLayer } from '@strata/core';
import { decodeImage, preprocessImage } from '@strata/core/image';
import type { FeatureModel } from '@strata/core/model';
import type { PcaModel } from '@strata/core/pca';
import type { Metric, NeighborResult, Store } from '@strata/core/store';
import { apiError } from '../errors.js';

export interface SimilarQuery {
  readonly dataset: string;
  readonly layer: string;
  readonly modelPath: string;
  readonly basisPath: string;
  readonly basisSha256: string;
  readonly bytes: Uint8Array;
  readonly k: number;
  readonly metric: Metric;
}

class Lru<V extends { dispose(): Promise<void> }> {
  readonly #entries = new Map<string, Promise<V>>();
  constructor(readonly size: number) {}

  async get(key: string, create: () => Promise<V>): Promise<V> {
    const hit = this.#entries.get(key);
    if (hit) {
      this.#entries.delete(key);
      this.#entries.set(key, hit);
      return hit;
    }
    const created = create();
    this.#entries.set(key, created);
    created.catch(() => this.#entries.delete(key));
    while (this.#entries.size > this.size) {
      const [oldest, value] = this.#entries.entries().next().value as [string, Promise<V>];
      this.#entries.delete(oldest);
      // Only evicted between requests (the semaphore lets one use a model at a time per slot).
      void value.then((v) => v.dispose()).catch(() => undefined);
    }
    return created;
  }

  async clear(): Promise<void> {
    const values = [...this.#entries.values()];
    this.#entries.clear();
    await Promise.all(values.map((value) => value.then((v) => v.dispose()).catch(() => undefined)));
  }
}

export class SimilarImages {
  readonly #store: Store;
  readonly #maxPixels: number;
  readonly #concurrency: number;
  readonly #maxWaiting: number;
  #active = 0;
  readonly #waiting: (() => void)[] = [];
  readonly #models = new Lru<FeatureModel>(2);
  readonly #bases = new Lru<PcaModel>(2);

  constructor(store: Store, options: { maxPixels: number; concurrency: number; maxWaiting: number }) {
    this.#store = store;
    this.#maxPixels = options.maxPixels;
    this.#concurrency = options.concurrency;
    this.#maxWaiting = options.maxWaiting;
  }

  async #slot(): Promise<() => void> {
    if (this.#active >= this.#concurrency) {
      if (this.#waiting.length >= this.#maxWaiting) {
        throw apiError('TOO_MANY_REQUESTS', `${this.#active} similarImages searches are running and ${this.#waiting.length} waiting; try again in a few seconds`);
      }
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#active += 1;
    }
    return () => {
      const next = this.#waiting.shift();
      if (next) next();
      else this.#active -= 1;
    };
  }

  async search(query: SimilarQuery): Promise<NeighborResult> {
    const layer = getLayer(query.layer);
    const release = await this.#slot();
    try {
      const image = await decodeImage(query.bytes, { maxPixels: this.#maxPixels });
      const input = preprocessImage(image);
      const model = await this.#models.get(`${query.modelPath}\n${layer.name}`, async () => {
        const { FeatureModel } = await import('@strata/core/model');
        return FeatureModel.load(query.modelPath, { layers: [layer] });
      });
      const activations = (await model.run(input, 1)).get(layer.name);
      if (!activations) throw new Error(`the model returned no ${layer.name} activations`);
      const basisPath = isAbsolute(query.basisPath) ? query.basisPath : join(this.#store.layout.root, query.basisPath);
      const basis = await this.#bases.get(`${basisPath}\n${query.basisSha256}`, async () => {
        const { PcaModel } = await import('@strata/core/pca');
        const loaded = await PcaModel.load(basisPath);
        if (loaded.sha256 !== query.basisSha256) {
          await loaded.dispose();
          throw new Error(`PCA basis ${basisPath} has sha256 ${loaded.sha256.slice(0, 12)}…, the store recorded ${query.basisSha256.slice(0, 12)}…`);
        }
        return loaded;
      });
      const vector = await basis.projectAsync(activations, 1);
      return await this.#store.nearest({ dataset: query.dataset, layer: layer.name, vector, k: query.k, metric: query.metric });
    } finally {
      release();
    }
  }

  async close(): Promise<void> {
    await this.#models.clear();
    await this.#bases.clear();
  }
}
