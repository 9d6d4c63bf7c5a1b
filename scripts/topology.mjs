#!/usr/bin/env node
// The lab deployment without Docker, as separate processes on loopback: a Postgres 17 + pgvector
// server (scripts/postgres-server.sh, its own instance), the schema migrated, the API with no
// workers of its own (`strata serve --workers 0`), N workers (`strata worker`) and the web app
// (`next start`) pointed at the API. For CI, for machines without Docker, and for the fault tests
// (test/topology.test.ts), which import this module to kill and restart its parts.
//
//   node scripts/topology.mjs start [--dir DIR] [--workers 2] [--model NAME=PATH]... [--import-root DIR]... [--threads N] [--no-web]
//   node scripts/topology.mjs status [--dir DIR]   each process, alive and healthy or not
//   node scripts/topology.mjs env [--dir DIR]      `export DATABASE_URL=… STRATA_DATA_DIR=…`, for `strata token create`
//   node scripts/topology.mjs stop [--dir DIR]     web, workers, API (SIGTERM, then SIGKILL after 30 s), then Postgres
//
// DIR (default $STRATA_TOPOLOGY_DIR, else /tmp/strata-topology-<uid>) holds the data folder, the
// logs (logs/*.log) and topology.json: the URLs and process ids. Linux only (the Postgres root
// runs under chroot: root or sudo). docs/deploy.md#without-docker.
import { execFileSync, spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';

const ROOT = resolve(import.meta.dirname, '..');
const CLI = join(ROOT, 'apps/cli/bin/strata.js');
const WEB = join(ROOT, 'apps/web');
const NEXT_BIN = join(ROOT, 'node_modules/next/dist/bin/next');
const PG_SCRIPT = join(ROOT, 'scripts/postgres-server.sh');
const STATE_FILE = 'topology.json';
const START_TIMEOUT_MS = 180_000;
const STOP_TIMEOUT_MS = 30_000;

/** @param {string | undefined} dir */
export function topologyDir(dir) {
  return resolve(dir ?? process.env.STRATA_TOPOLOGY_DIR ?? join(tmpdir(), `strata-topology-${process.getuid?.() ?? 'user'}`));
}

/** @returns {Promise<number>} a port free on 127.0.0.1 right now */
function freePort() {
  return new Promise((done, fail) => {
    const server = createServer();
    server.once('error', fail);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => done(port));
    });
  });
}

/** True while `pid` runs (a zombie, exited but not yet reaped, counts as gone). */
export function alive(pid) {
  try {
    process.kill(pid, 0);
  } catch {
    return false;
  }
  try {
    // "pid (comm) S ...": the state follows the last ')'.
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return true;
  }
}

/** The last `bytes` of a log file, for error messages. */
function tail(file, bytes = 4000) {
  if (!existsSync(file)) return '(no log)';
  const text = readFileSync(file, 'utf8');
  return text.slice(-bytes);
}

/** What a log file says after byte `from`. */
function logSince(file, from) {
  if (!existsSync(file)) return '';
  const size = statSync(file).size;
  if (size <= from) return '';
  const fd = openSync(file, 'r');
  try {
    const buffer = Buffer.alloc(size - from);
    readSync(fd, buffer, 0, buffer.length, from);
    return buffer.toString('utf8');
  } finally {
    closeSync(fd);
  }
}

const sleep = (ms) => new Promise((done) => setTimeout(done, ms));

/** Polls `ready` until it is true; fails when the process exits or time runs out, with its log. */
async function waitUntil(name, pid, log, ready, timeoutMs = START_TIMEOUT_MS) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await ready().catch(() => false)) return;
    if (pid !== undefined && !alive(pid)) throw new Error(`${name} (pid ${pid}) exited while starting; the end of ${log}:\n${tail(log)}`);
    if (Date.now() > deadline) throw new Error(`${name} (pid ${pid}) was not ready in ${timeoutMs / 1000} s; the end of ${log}:\n${tail(log)}`);
    await sleep(250);
  }
}

async function httpOk(url) {
  return (await httpStatus(url)) === 200;
}

/** The HTTP status `url` answers with, or null when nothing answers. */
async function httpStatus(url) {
  try {
    const response = await fetch(url, { signal: AbortSignal.timeout(3000) });
    await response.arrayBuffer();
    return response.status;
  } catch {
    return null;
  }
}

/** healthy, unhealthy (HTTP 503: the API's database is down), not answering, exited. */
async function httpState(pid, url) {
  if (!alive(pid)) return 'exited';
  const status = await httpStatus(url);
  return status === 200 ? 'healthy' : status === null ? 'not answering' : `unhealthy (HTTP ${status})`;
}

/** Starts a detached process (its own process group) writing to `log`; returns its pid. */
function launch(command, args, { cwd = ROOT, env, log }) {
  const fd = openSync(log, 'a');
  try {
    const child = spawn(command, args, { cwd, env, detached: true, stdio: ['ignore', fd, fd] });
    child.unref();
    if (child.pid === undefined) throw new Error(`could not start ${command} ${args.join(' ')}`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** Sends `signal` to a process and its group (next start has children); waits for it to go. */
async function terminate(pid, { signal = 'SIGTERM', timeoutMs = STOP_TIMEOUT_MS } = {}) {
  if (!alive(pid)) return;
  const send = (sig) => {
    try {
      process.kill(-pid, sig);
    } catch {
      try {
        process.kill(pid, sig);
      } catch {
        // gone already
      }
    }
  };
  send(signal);
  const deadline = Date.now() + timeoutMs;
  while (alive(pid)) {
    if (Date.now() > deadline) {
      send('SIGKILL');
      await sleep(200);
      if (Date.now() > deadline + 5000) throw new Error(`process ${pid} did not stop`);
    }
    await sleep(100);
  }
}

function postgres(command, instance) {
  return execFileSync('bash', [PG_SCRIPT, command], {
    encoding: 'utf8',
    env: { ...process.env, STRATA_PG_INSTANCE: instance },
    stdio: ['ignore', 'pipe', 'pipe'],
    maxBuffer: 1 << 20,
  }).trim();
}

/**
 * A running topology. `state` is what topology.json holds:
 * { dir, data, logs, database: { instance, url }, api: { pid, port, url, log },
 *   workers: [{ pid, log }], web: { pid, port, url, log } | null, env }
 */
export class Topology {
  constructor(state) {
    this.state = state;
  }

  /** The topology described by DIR/topology.json (throws when there is none). */
  static open(dir) {
    const file = join(topologyDir(dir), STATE_FILE);
    if (!existsSync(file)) throw new Error(`no topology in ${topologyDir(dir)} (node scripts/topology.mjs start)`);
    return new Topology(JSON.parse(readFileSync(file, 'utf8')));
  }

  /**
   * Starts everything and waits until each part answers.
   * @param {{ dir?: string, workers?: number, web?: boolean, models?: string, importRoots?: string[],
   *           threads?: number, env?: Record<string, string>, instance?: string, log?: (line: string) => void }} options
   */
  static async start(options = {}) {
    const dir = topologyDir(options.dir);
    const log = options.log ?? ((line) => process.stderr.write(`topology: ${line}\n`));
    const stateFile = join(dir, STATE_FILE);
    if (existsSync(stateFile)) {
      const old = new Topology(JSON.parse(readFileSync(stateFile, 'utf8')));
      if (old.pids().some(alive)) throw new Error(`a topology already runs in ${dir} (node scripts/topology.mjs stop --dir ${dir})`);
      rmSync(stateFile);
    }
    const web = options.web ?? true;
    if (web && !existsSync(join(WEB, '.next', 'BUILD_ID'))) throw new Error('apps/web is not built: run `npm run build` first');
    if (!existsSync(join(ROOT, 'apps/cli/dist'))) throw new Error('the CLI is not built: run `npm run build` first');
    const data = join(dir, 'data');
    const logs = join(dir, 'logs');
    mkdirSync(data, { recursive: true });
    mkdirSync(logs, { recursive: true });
    const instance = options.instance ?? `topology-${createHash('sha256').update(dir).digest('hex').slice(0, 8)}`;

    log(`starting Postgres (instance ${instance})`);
    // A fresh cluster: a server this instance left behind (a run that crashed) goes first.
    postgres('stop', instance);
    const url = postgres('start', instance);
    const topology = new Topology({
      dir,
      data,
      logs,
      database: { instance, url },
      api: null,
      workers: [],
      web: null,
      threads: options.threads ?? null,
      env: {
        ...(options.models ? { STRATA_MODELS: options.models } : {}),
        ...(options.importRoots?.length ? { STRATA_IMPORT_ROOTS: options.importRoots.map((root) => resolve(root)).join(':') } : {}),
        ...options.env,
      },
    });
    topology.save();
    try {
      log('applying migrations');
      topology.cli(['db', 'migrate', '--data', data]);
      const port = await freePort();
      topology.state.api = { pid: 0, port, url: `http://127.0.0.1:${port}`, log: join(logs, 'api.log') };
      await topology.startApi();
      for (let i = 0; i < (options.workers ?? 2); i++) await topology.startWorker(i);
      if (web) {
        const webPort = await freePort();
        topology.state.web = { pid: 0, port: webPort, url: `http://127.0.0.1:${webPort}`, log: join(logs, 'web.log') };
        await topology.startWeb();
      }
    } catch (error) {
      await topology.stop().catch(() => undefined);
      throw error;
    }
    return topology;
  }

  get dir() {
    return this.state.dir;
  }

  /** Environment of the API, the workers and CLI commands on this topology. */
  env(overrides = {}) {
    const { DATABASE_URL: _ignored, ...base } = process.env;
    return { ...base, ...this.state.env, DATABASE_URL: this.state.database.url, STRATA_DATA_DIR: this.state.data, ...overrides };
  }

  /** Runs the strata CLI on this topology's database; returns its stdout, throws with its stderr. */
  cli(args) {
    try {
      return execFileSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: this.env(), stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 1 << 24 });
    } catch (error) {
      throw new Error(`strata ${args.join(' ')} failed: ${error.stderr || error.message}`);
    }
  }

  save() {
    writeFileSync(join(this.state.dir, STATE_FILE), `${JSON.stringify(this.state, null, 2)}\n`);
  }

  pids() {
    return [this.state.api?.pid, ...this.state.workers.map((worker) => worker?.pid), this.state.web?.pid].filter((pid) => typeof pid === 'number' && pid > 0);
  }

  /** Starts the API (again, on the same port) and waits for /healthz. */
  async startApi() {
    const api = this.state.api;
    api.pid = launch(process.execPath, [CLI, 'serve', '--workers', '0', '--host', '127.0.0.1', '--port', String(api.port), '--data', this.state.data], {
      env: this.env(),
      log: api.log,
    });
    this.save();
    await waitUntil('the API', api.pid, api.log, () => httpOk(`${api.url}/healthz`));
    return api.pid;
  }

  /** Starts worker `index` (again) and waits until it takes jobs. */
  async startWorker(index) {
    const log = join(this.state.logs, `worker-${index + 1}.log`);
    const from = existsSync(log) ? statSync(log).size : 0;
    const threads = this.state.threads ? ['--threads', String(this.state.threads)] : [];
    const pid = launch(process.execPath, [CLI, 'worker', '--data', this.state.data, ...threads], { env: this.env(), log });
    this.state.workers[index] = { pid, log };
    this.save();
    await waitUntil(`worker ${index + 1}`, pid, log, async () => /waiting for jobs/.test(logSince(log, from)));
    return pid;
  }

  /** Starts the web app (again) and waits until its proxy reaches the API. */
  async startWeb() {
    const web = this.state.web;
    web.pid = launch(process.execPath, [NEXT_BIN, 'start', '--port', String(web.port), '--hostname', '127.0.0.1'], {
      cwd: WEB,
      env: { ...this.env(), STRATA_API_URL: this.state.api.url, NEXT_TELEMETRY_DISABLED: '1' },
      log: web.log,
    });
    this.save();
    await waitUntil('the web app', web.pid, web.log, () => httpOk(`${web.url}/api/strata/healthz`));
    return web.pid;
  }

  /** Stops the API (SIGKILL: as a crash; SIGTERM: as a restart does) and starts it again. */
  async restartApi({ signal = 'SIGTERM' } = {}) {
    await terminate(this.state.api.pid, { signal });
    return this.startApi();
  }

  /** Stops the database, keeping its data and port: an outage. */
  haltDatabase() {
    postgres('halt', this.state.database.instance);
  }

  /** Starts the database again on its data and port. */
  restartDatabase() {
    postgres('restart', this.state.database.instance);
  }

  /** Each part: its pid, whether it runs and answers. */
  async status() {
    const rows = [];
    let database = 'running';
    try {
      postgres('url', this.state.database.instance);
    } catch {
      database = 'not running';
    }
    rows.push({ name: 'postgres', pid: null, url: this.state.database.url, state: database });
    if (this.state.api) rows.push({ name: 'api', pid: this.state.api.pid, url: `${this.state.api.url}/graphql`, state: await httpState(this.state.api.pid, `${this.state.api.url}/healthz`) });
    this.state.workers.forEach((worker, i) => rows.push({ name: `worker ${i + 1}`, pid: worker.pid, url: null, state: alive(worker.pid) ? 'running' : 'exited' }));
    // Through the web app's proxy: healthy when the web app, the API and the database all answer.
    if (this.state.web) rows.push({ name: 'web', pid: this.state.web.pid, url: this.state.web.url, state: await httpState(this.state.web.pid, `${this.state.web.url}/api/strata/healthz`) });
    return rows;
  }

  /** Web, workers (they hand running jobs back to the queue), API, then Postgres (its data removed). */
  async stop() {
    if (this.state.web?.pid) await terminate(this.state.web.pid);
    await Promise.all(this.state.workers.filter(Boolean).map((worker) => terminate(worker.pid)));
    if (this.state.api?.pid) await terminate(this.state.api.pid);
    postgres('stop', this.state.database.instance);
    rmSync(join(this.state.dir, STATE_FILE), { force: true });
  }

  describe() {
    const lines = [`Strata topology in ${this.state.dir} (${join(this.state.dir, STATE_FILE)}; logs in ${this.state.logs})`];
    lines.push(`  postgres   ${this.state.database.url}   (scripts/postgres-server.sh instance ${this.state.database.instance})`);
    if (this.state.api) lines.push(`  api        ${this.state.api.url}/graphql   pid ${this.state.api.pid}`);
    this.state.workers.forEach((worker, i) => lines.push(`  worker ${i + 1}   pid ${worker.pid}`));
    if (this.state.web) lines.push(`  web        ${this.state.web.url}   pid ${this.state.web.pid}`);
    return lines.join('\n');
  }
}

function parseArgs(argv) {
  const options = { models: [], importRoots: [], web: true };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    const value = () => {
      const next = argv[++i];
      if (next === undefined) throw new TypeError(`${arg} needs a value`);
      return next;
    };
    const count = (name, min) => {
      const n = Number(value());
      if (!Number.isInteger(n) || n < min) throw new RangeError(`${name} must be an integer >= ${min}, got ${argv[i]}`);
      return n;
    };
    if (arg === '--dir') options.dir = value();
    else if (arg === '--workers') options.workers = count('--workers', 0);
    else if (arg === '--threads') options.threads = count('--threads', 1);
    else if (arg === '--model') options.models.push(value());
    else if (arg === '--import-root') options.importRoots.push(value());
    else if (arg === '--no-web') options.web = false;
    else throw new TypeError(`unknown option ${arg}; expected --dir, --workers, --threads, --model, --import-root, --no-web`);
  }
  return options;
}

async function main(argv) {
  const [command, ...rest] = argv;
  const options = parseArgs(rest);
  switch (command) {
    case 'start': {
      const topology = await Topology.start({ ...options, models: options.models.join(',') || process.env.STRATA_MODELS });
      console.log(topology.describe());
      return 0;
    }
    case 'status': {
      const topology = Topology.open(options.dir);
      const rows = await topology.status();
      for (const row of rows) console.log(`${row.name.padEnd(9)} ${row.state.padEnd(22)} ${row.pid ? `pid ${String(row.pid).padEnd(8)}` : ' '.repeat(12)}${row.url ?? ''}`);
      return rows.every((row) => row.state === 'healthy' || row.state === 'running') ? 0 : 1;
    }
    case 'env': {
      const topology = Topology.open(options.dir);
      console.log(`export DATABASE_URL='${topology.state.database.url}' STRATA_DATA_DIR='${topology.state.data}'`);
      return 0;
    }
    case 'stop': {
      const dir = topologyDir(options.dir);
      if (!existsSync(join(dir, STATE_FILE))) {
        console.log(`no topology runs in ${dir}`);
        return 0;
      }
      await Topology.open(dir).stop();
      console.log(`stopped the topology in ${dir}`);
      return 0;
    }
    default:
      console.error('usage: node scripts/topology.mjs start|status|env|stop [--dir DIR] [--workers N] [--threads N] [--model NAME=PATH] [--import-root DIR] [--no-web]');
      return 2;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (error) => {
      console.error(`topology: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}
