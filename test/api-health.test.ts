/**
 * What docker-compose.yml relies on from the processes themselves, over real HTTP and real
 * processes: `strata serve --workers 0` runs the API alone; GET /healthz answers 200 while the
 * database answers and 503 once it is gone, and compose's own healthcheck command (taken from
 * docker-compose.yml) exits 0 and then 1 accordingly; a worker set to CUDA on a machine without
 * onnxruntime's CUDA binaries stops at start and says how to get them.
 */
import { spawnSync, type ChildProcess } from 'node:child_process';
import { readdirSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runningEmbeddedDatabase } from '@strata/api';
import { checkExecutionProvider } from '@strata/core/jobs';
import { readCompose } from './deploy-files.js';
import { CLI, startServe, tempDir } from './helpers.js';

interface Health {
  readonly status: number;
  readonly body: { ok: boolean; database: string; backend: string };
}

async function health(url: string): Promise<Health> {
  const response = await fetch(`${url}/healthz`);
  return { status: response.status, body: (await response.json()) as Health['body'] };
}

/** docker-compose.yml's healthcheck of the api service, pointed at `port`, run as Docker would (exec form). */
function composeHealthcheck(port: number): number | null {
  const [kind, command, ...args] = readCompose().services.api?.healthcheck?.test ?? [];
  expect(kind).toBe('CMD');
  expect(command).toBe('node');
  const result = spawnSync(process.execPath, args.map((arg) => arg.replace('127.0.0.1:4000', `127.0.0.1:${port}`)), { encoding: 'utf8', timeout: 30_000 });
  return result.status;
}

describe('strata serve --workers 0 and /healthz', () => {
  let child: ChildProcess;
  let data: string;
  let url = '';
  let out = '';
  let stderr: string[] = [];

  beforeAll(async () => {
    data = tempDir('health');
    const { DATABASE_URL: _ignored, ...env } = process.env;
    const serve = await startServe(['--port', '0', '--workers', '0', '--data', data], env, /listening on (http:\/\/\S+)\/graphql[\s\S]*worker\(s\)/);
    ({ child, url, stderr } = serve);
    out = serve.stdout;
  });

  afterAll(async () => {
    if (!child || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 45_000);
    await exited;
    clearTimeout(timer);
  });

  it('runs no workers', () => {
    expect(out).toMatch(/^ {2}0 worker\(s\): pid -$/m);
  });

  it('reports the database up, without a token, and compose healthcheck passes', async () => {
    const answer = await health(url);
    expect(answer).toEqual({ status: 200, body: { ok: true, backend: expect.any(String), database: 'up' } });
    expect(composeHealthcheck(Number(new URL(url).port))).toBe(0);
  });

  it('reports 503 once the database is gone, and the healthcheck fails', async () => {
    const database = runningEmbeddedDatabase(data);
    expect(database, 'the embedded database publishes its pid').not.toBeNull();
    process.kill((database as { pid: number }).pid, 'SIGKILL');
    // The pool notices on its next query; give the process a moment to be gone.
    await new Promise((resolve) => setTimeout(resolve, 500));
    const answer = await health(url);
    expect(answer).toEqual({ status: 503, body: { ok: false, backend: expect.any(String), database: 'down' } });
    expect(JSON.stringify(answer.body)).not.toMatch(/\/|ECONN|socket/i);
    expect(composeHealthcheck(Number(new URL(url).port))).toBe(1);
    await expect.poll(() => stderr.join(''), { timeout: 5000 }).toContain('healthz: the database is down');
  });
});

describe('a worker set to run models on CUDA', () => {
  // As packages/core/test/model-runtime.test.ts: where onnxruntime-node's CUDA binaries are
  // installed the check may pass (with a GPU), and the worker goes on to the database.
  const ortDir = dirname(createRequire(import.meta.url).resolve('onnxruntime-node/package.json'));
  const hasCuda = readdirSync(ortDir, { recursive: true, encoding: 'utf8' }).some((name) => name.includes('onnxruntime_providers_cuda'));

  it('passes the same check on the CPU (the check model itself is valid)', async () => {
    await expect(checkExecutionProvider('cpu')).resolves.toBeUndefined();
  });

  it('checks the device at start, before the database (STRATA_WORKER_DEVICE, as compose sets it)', () => {
    // Nothing listens on port 1: a worker that gets past the device check fails on the database.
    const env = { ...process.env, DATABASE_URL: 'postgres://strata@127.0.0.1:1/strata', STRATA_WORKER_DEVICE: 'cuda' };
    const result = spawnSync(process.execPath, [CLI, 'worker', '--data', tempDir('cuda-worker')], { env, encoding: 'utf8', timeout: 120_000 });
    expect(result.status, result.stdout).toBe(1);
    if (hasCuda) {
      expect(result.stderr).toMatch(/set to run models on cuda|cannot connect to the Postgres server/);
      return;
    }
    // Without the CUDA binaries: stopped at once, with how to get them.
    expect(result.stderr).toMatch(/set to run models on cuda \(STRATA_WORKER_DEVICE, --device\)/);
    expect(result.stderr).toMatch(/CUDA execution provider is not available.*ONNXRUNTIME_NODE_INSTALL=cuda12/);
    expect(result.stderr).not.toMatch(/cannot connect to the Postgres server/);
  });

  it('refuses an unknown device, naming the valid ones', () => {
    const result = spawnSync(process.execPath, [CLI, 'worker', '--device', 'tpu'], { encoding: 'utf8', env: { ...process.env, DATABASE_URL: 'postgres://strata@127.0.0.1:1/strata' } });
    expect(result.status).toBe(1);
    expect(result.stderr).toContain('Unknown execution provider "tpu"; expected one of cpu, cuda');
  });
});
