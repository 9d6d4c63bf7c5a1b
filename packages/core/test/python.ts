/**
 * Runs Debian's Python (the reference implementations: torch, PIL, h5py, sklearn) from
 * tests. /usr/bin/python3 on purpose: a `python3` earlier on PATH may lack the packages.
 */
import { execFileSync } from 'node:child_process';

export const PYTHON = process.env.STRATA_REFERENCE_PYTHON ?? '/usr/bin/python3';

export function runPython(code: string, args: readonly string[] = [], input?: string): string {
  try {
    return execFileSync(PYTHON, ['-c', code, ...args], { encoding: 'utf8', input, maxBuffer: 1 << 30 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${PYTHON} failed (install the reference packages with scripts/install-test-deps.sh):\n${stderr}`);
  }
}

export function runPythonScript(script: string, args: readonly string[] = []): string {
  try {
    return execFileSync(PYTHON, [script, ...args], { encoding: 'utf8', maxBuffer: 1 << 30 });
  } catch (error) {
    const stderr = (error as { stderr?: string }).stderr ?? '';
    throw new Error(`${PYTHON} ${script} failed (install the reference packages with scripts/install-test-deps.sh):\n${stderr}`);
  }
}
