/** Shared pieces of the end-to-end tests: the built CLI, Debian's Python, temp folders. */
import { execFileSync, spawn, spawnSync, type ChildProcess, type SpawnSyncReturns } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

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
