// Types of ./topology.mjs, for the tests that import it (test/topology.test.ts).

export interface ServiceState {
  pid: number;
  log: string;
}

export interface HttpServiceState extends ServiceState {
  port: number;
  /** http://127.0.0.1:PORT */
  url: string;
}

export interface TopologyState {
  dir: string;
  /** The data folder the API and workers share. */
  data: string;
  logs: string;
  database: { instance: string; url: string };
  api: HttpServiceState;
  workers: ServiceState[];
  web: HttpServiceState | null;
  threads: number | null;
  /** Environment given to the API, the workers and CLI commands. */
  env: Record<string, string>;
}

export interface TopologyOptions {
  /** Default $STRATA_TOPOLOGY_DIR, else /tmp/strata-topology-<uid>. */
  dir?: string;
  /** Default 2. */
  workers?: number;
  /** Default true. */
  web?: boolean;
  /** STRATA_MODELS: name=path pairs. */
  models?: string;
  importRoots?: string[];
  /** Inference threads per worker. */
  threads?: number;
  env?: Record<string, string>;
  /** scripts/postgres-server.sh instance; default topology-<hash of dir>. */
  instance?: string;
  log?: (line: string) => void;
}

export interface StatusRow {
  name: string;
  pid: number | null;
  url: string | null;
  /** running, not running (postgres); healthy, unhealthy (HTTP 503), not answering, exited. */
  state: string;
}

export function topologyDir(dir?: string): string;
export function alive(pid: number): boolean;

export class Topology {
  state: TopologyState;
  constructor(state: TopologyState);
  static open(dir?: string): Topology;
  static start(options?: TopologyOptions): Promise<Topology>;
  get dir(): string;
  env(overrides?: Record<string, string>): NodeJS.ProcessEnv;
  cli(args: readonly string[]): string;
  save(): void;
  pids(): number[];
  startApi(): Promise<number>;
  startWorker(index: number): Promise<number>;
  startWeb(): Promise<number>;
  restartApi(options?: { signal?: NodeJS.Signals }): Promise<number>;
  haltDatabase(): void;
  restartDatabase(): void;
  status(): Promise<StatusRow[]>;
  stop(): Promise<void>;
  describe(): string;
}
