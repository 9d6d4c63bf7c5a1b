/** Shared pieces of the end-to-end tests: the built CLI, Debian's Python, temp folders. */
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { expect } from 'vitest';

export const ROOT = resolve(import.meta.dirname, '..');
export const CLI = join(ROOT, 'apps/cli/bin/strata.js');
export const PYTHON = process.env.STRATA_REFERENCE_PYTHON ?? '/usr/bin/python3';
export const SKIMAGE_DATA = '/usr/lib/python3/dist-packages/skimage/data';

export function tempDir(prefix: string): string {
  return mkdtempSync(join(tmpdir(), `strata-${prefix}-`));
}

/** Runs the strata CLI; never throws, so tests can assert on failures too. */
export function strata(args: readonly string[], options: { timeout?: number } = {}): SpawnSyncReturns<string> {
  return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', timeout: options.timeout, maxBuffer: 1 << 26 });
}

/** Runs a reference Python script or snippet; throws with its stderr when it fails. */
export function python(args: readonly string[]): string {
  try {
    return execFileSync(PYTHON, args, { encoding: 'utf8', maxBuffer: 1 << 28 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${PYTHON} ${args.join(' ')} failed (scripts/install-test-deps.sh installs the reference packages):\n${stderr}`);
  }
}

/** A `strata serve` started by a test: the process, its GraphQL base URL, what it printed. */
export interface ServeProcess {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stdout: string;
  readonly stderr: string[];
}

/**
 * Starts `strata serve ARGS` with `env` and resolves once it prints its URL (and, when given,
 * once its output matches `ready`); rejects with everything it printed if it exits or takes
 * more than 3 minutes.
 */
export function startServe(args: readonly string[], env: NodeJS.ProcessEnv, ready = /listening on (http:\/\/\S+)\/graphql/): Promise<ServeProcess> {
  const child = spawn(process.execPath, [CLI, 'serve', ...args], { env, stdio: ['ignore', 'pipe', 'pipe'] });
  const stderr: string[] = [];
  child.stderr?.setEncoding('utf8').on('data', (text: string) => stderr.push(text));
  return new Promise<ServeProcess>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`strata serve did not start in 3 minutes:\n${out}\n${stderr.join('')}`)), 180_000);
    child.stdout?.setEncoding('utf8').on('data', (text: string) => {
      out += text;
      const url = /listening on (http:\/\/\S+)\/graphql/.exec(out)?.[1];
      if (url !== undefined && ready.test(out)) {
        clearTimeout(timer);
        resolve({ child, url, stdout: out, stderr });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`strata serve exited (${code}):\n${out}\n${stderr.join('')}`));
    });
  });
}

/** A GraphQL answer with its HTTP status. */
export interface GraphQLResult<T = Record<string, any>> {
  readonly status: number;
  readonly data?: T | null;
  readonly errors?: { message: string; extensions?: { code?: string } & Record<string, unknown> }[];
}

/** A running `strata serve` with its data folder and environment, and how a test talks to it. */
export class ServeLab {
  readonly child: ChildProcess;
  readonly url: string;
  readonly stderr: string[];

  constructor(
    serve: ServeProcess,
    readonly data: string,
    readonly env: NodeJS.ProcessEnv,
  ) {
    this.child = serve.child;
    this.url = serve.url;
    this.stderr = serve.stderr;
  }

  /** The CLI with the lab's environment (its database). */
  cli(args: readonly string[]): SpawnSyncReturns<string> {
    return spawnSync(process.execPath, [CLI, ...args], { encoding: 'utf8', env: this.env, maxBuffer: 1 << 26 });
  }

  /** A new token for `user`, printed once by `strata token create`. */
  token(user: string, role: string): string {
    const result = this.cli(['token', 'create', '--name', user, '--role', role, '--json', '--data', this.data]);
    expect(result.status, result.stderr).toBe(0);
    return (JSON.parse(result.stdout) as { token: string }).token;
  }

  /** POST /graphql with this Authorization header (none when null). */
  async graphql<T = Record<string, any>>(authorization: string | null, query: string, variables: Record<string, unknown> = {}): Promise<GraphQLResult<T>> {
    const response = await fetch(`${this.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(authorization ? { authorization } : {}) },
      body: JSON.stringify({ query, variables }),
    });
    return { status: response.status, ...((await response.json()) as Omit<GraphQLResult<T>, 'status'>) };
  }

  /** The data of a query that must succeed. */
  async ok<T = Record<string, any>>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
    const result = await this.graphql<T>(`Bearer ${token}`, query, variables);
    expect(result.errors, JSON.stringify(result.errors)).toBeUndefined();
    return result.data as T;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise((resolve) => this.child.once('exit', resolve));
    this.child.kill('SIGTERM');
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 45_000);
    await exited;
    clearTimeout(timer);
  }
}
