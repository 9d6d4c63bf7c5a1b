#!/usr/bin/env node
// Builds the workspace, runs every test suite, and ends with one line "N passed, N failed"
// summed over all suites. A suite that crashes before reporting counts as one failure.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const suites = ['packages/core', 'test'];
const only = process.argv.slice(2);
const reports = mkdtempSync(join(tmpdir(), 'strata-tests-'));

const build = spawnSync('npx', ['turbo', 'run', 'build', '--output-logs=errors-only'], { cwd: root, stdio: 'inherit', env: { ...process.env, TURBO_TELEMETRY_DISABLED: '1' } });
let passed = 0;
let failed = 0;
if (build.status !== 0) {
  console.error('build failed');
  failed += 1;
} else {
  for (const suite of suites) {
    const cwd = join(root, suite);
    if (!existsSync(join(cwd, 'package.json'))) continue;
    const report = join(reports, `${suite.replaceAll('/', '-')}.json`);
    console.log(`\n=== ${suite} ===`);
    const run = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...only], {
      cwd,
      stdio: 'inherit',
      env: { ...process.env, FORCE_COLOR: process.env.CI ? '0' : process.env.FORCE_COLOR },
    });
    if (!existsSync(report)) {
      console.error(`${suite}: no test report (exit ${run.status}); counted as 1 failure`);
      failed += 1;
      continue;
    }
    const result = JSON.parse(readFileSync(report, 'utf8'));
    passed += result.numPassedTests;
    failed += result.numFailedTests;
    // A file that fails to load has no tests but is still a failure.
    const brokenFiles = result.testResults.filter((file) => file.status === 'failed' && file.assertionResults.length === 0).length;
    failed += brokenFiles;
  }
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
