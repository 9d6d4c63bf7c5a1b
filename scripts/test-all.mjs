#!/usr/bin/env node
// Builds the workspace, runs every test suite, and ends with one line "N passed, N failed"
// summed over all suites. A suite that crashes before reporting counts as one failure; skipped
// and todo tests count as failures, and so does a file that fails outside its tests (a
// beforeAll that throws).
import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

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
    // A filter (`npm test -- topology`) may match no file of a suite: that suite is not a failure.
    const filters = only.length > 0 ? ['--passWithNoTests', ...only] : [];
    const run = spawnSync('npx', ['vitest', 'run', '--reporter=default', '--reporter=json', `--outputFile.json=${report}`, ...filters], {
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
    let suiteFailed = result.numFailedTests;
    // A test that did not run proves nothing: skipped and todo tests are failures (a beforeAll
    // that throws skips every test under it).
    const skipped = result.numPendingTests + result.numTodoTests;
    if (skipped > 0) console.error(`${suite}: ${skipped} test(s) skipped or todo; counted as failures`);
    suiteFailed += skipped;
    // A file that fails outside its tests (it does not load, a hook throws) is one more failure.
    for (const file of result.testResults) {
      if (file.status === 'failed' && !file.assertionResults.some((test) => test.status === 'failed')) {
        console.error(`${suite}: ${relative(cwd, file.name)} failed outside its tests: ${String(file.message).split('\n')[0]}`);
        suiteFailed += 1;
      }
    }
    // vitest's exit status has the last word (an unhandled error fails a run whose tests passed).
    if (run.status !== 0 && suiteFailed === 0) {
      console.error(`${suite}: vitest exited with ${run.status ?? run.signal}; counted as 1 failure`);
      suiteFailed = 1;
    }
    failed += suiteFailed;
  }
}
console.log(`\n${passed} passed, ${failed} failed`);
process.exit(failed === 0 ? 0 : 1);
