/**
 * What the API process holds for its whole life and shares between requests: the store, the
 * job queue, the model registry, the URL signer, the similar-image searcher.
 */
import type { Store } from '@strata/core/store';
import type { Env } from '../env.js';
import type { Authenticator } from './authenticator.js';
import type { JobQueue } from '../jobs/queue.js';
import type { ImportRoots } from './import-roots.js';
import type { MapReader } from './maps.js';
import type { ModelRegistry } from './models.js';
import type { SimilarImages } from './similar-images.js';
import type { UrlSigner } from './url-signer.js';

export interface ApiServices {
  readonly env: Env;
  readonly store: Store;
  readonly auth: Authenticator;
  readonly queue: JobQueue;
  readonly models: ModelRegistry;
  readonly importRoots: ImportRoots;
  readonly signer: UrlSigner;
  readonly similar: SimilarImages;
  readonly maps: MapReader;
  /** Folder of uploaded files (<data>/uploads). */
  readonly uploadDir: string;
  readonly log: (line: string) => void;
}
