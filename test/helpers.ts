/** Shared pieces of the end-to-end tests: the built CLI, Debian's Python, temp folders. */
import { execFileSync, spawnSync, type SpawnSyncReturns } from 'node:child_process';
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
