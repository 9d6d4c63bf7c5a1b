// Types of harness.mjs, for test/load-smoke.test.ts.
export type QueryKind = 'nearestNeighbors' | 'images' | 'tsneMap';
export declare const QUERY_KINDS: readonly QueryKind[];
export declare const PAGE: number;
export declare const K: number;

export interface Fixture {
  readonly name: string;
  readonly datasetId: number;
  readonly count: number;
  readonly dimension: number;
  readonly layers: readonly string[];
  readonly imageIds: Int32Array;
  readonly vectors: Readonly<Record<string, Float32Array>>;
  readonly editorToken: string;
  readonly viewerToken: string;
  readonly setupS: number;
}

export interface MapColumns {
  readonly imageIds: readonly number[];
  readonly x: readonly number[];
  readonly y: readonly number[];
  readonly seconds: number;
}

export interface KindStats {
  readonly requests: number;
  readonly perSecond: number;
  readonly p50Ms: number;
  readonly p95Ms: number;
  readonly p99Ms: number;
  readonly maxMs: number;
}

export interface LoadResult {
  readonly connections: number;
  readonly elapsedS: number;
  readonly requests: number;
  readonly ok: number;
  readonly perSecond: number;
  readonly errors: number;
  readonly wrong: number;
  readonly failures: readonly string[];
  readonly kinds: Readonly<Record<QueryKind, KindStats>>;
  readonly mix: Readonly<Partial<Record<QueryKind, number>>>;
  /** CPU seconds the clients' process used (sending, parsing, checking). */
  readonly clientCpuS: number;
}

export interface Serve {
  readonly url: string;
  readonly pid: number;
  readonly output: readonly string[];
  stop(): Promise<void>;
}

export declare function postgresServerUrl(): string;
export declare function treeRss(pid: number): number;
export declare function stopChild(child: import('node:child_process').ChildProcess): Promise<void>;
export declare function startServe(options: {
  dataDir: string;
  databaseUrl?: string;
  workers?: number;
  workerThreads?: number;
  env?: Record<string, string>;
  timeoutMs?: number;
}): Promise<Serve>;
export declare function prepareDataset(options: {
  databaseUrl?: string;
  dataDir: string;
  name?: string;
  count: number;
  dimension: number;
  layers?: readonly string[];
  seed?: number;
}): Promise<Fixture>;
export declare function gql<T = Record<string, unknown>>(url: string, token: string, query: string, variables?: Record<string, unknown>): Promise<T>;
export declare function computeMaps(
  url: string,
  fixture: Fixture,
  options?: { iterations?: number; perplexity?: number; timeoutMs?: number; onProgress?: (layer: string, state: Record<string, unknown>) => void },
): Promise<Record<string, MapColumns>>;
export declare function runLoad(options: {
  url: string;
  token: string;
  fixture: Fixture;
  maps: Readonly<Record<string, MapColumns>>;
  connections?: number;
  durationS?: number;
  maxRequests?: number;
  mix?: Partial<Record<QueryKind, number>>;
  seed?: number;
  timeoutMs?: number;
  sample?: () => void;
}): Promise<LoadResult>;
