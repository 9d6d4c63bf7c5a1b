/**
 * docker-compose.yml, .env.example, the Dockerfile and .dockerignore, checked for what breaks a
 * deployment for real, without a Docker engine: commands that `strata` does not have, variables
 * no one documents or no code reads, environments the API's schema refuses, floating image
 * tags, services without healthchecks, workers that cannot scale, and Dockerfile steps that
 * copy files the build context does not have.
 */
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadEnv } from '@strata/api';
import { parseWebEnv } from '../apps/web/env.js';
import {
  composeText,
  dockerIgnores,
  interpolate,
  readCompose,
  readDockerfile,
  readEnvExample,
  referencedVariables,
  type ComposeService,
  type DockerInstruction,
} from './deploy-files.js';
import { CLI, ROOT } from './helpers.js';

const compose = readCompose();
const services = compose.services;
const envExample = readEnvExample();
const dockerfile = readDockerfile();

/** Services that run the `strata` command of the image (its ENTRYPOINT). */
const strataServices = Object.entries(services).filter(([, service]) => service.build !== undefined && service.entrypoint === undefined);

/** The values compose would use with .env.example copied to .env and its one required value set. */
const dotEnv = new Map([...envExample, ['POSTGRES_PASSWORD', 'test0password']]);

/** Stage name -> its instructions, from `FROM image AS name`. */
function stages(): Map<string, DockerInstruction[]> {
  const out = new Map<string, DockerInstruction[]>();
  let current: DockerInstruction[] = [];
  let index = 0;
  for (const instruction of dockerfile) {
    if (instruction.keyword === 'FROM') {
      current = [];
      const name = /\sAS\s+(\S+)$/i.exec(instruction.args)?.[1] ?? `#${index}`;
      out.set(name, current);
      index += 1;
    }
    current.push(instruction);
  }
  return out;
}

/** ENV of a stage, following `FROM <earlier stage>` chains. */
function stageEnv(name: string): Record<string, string> {
  const instructions = stages().get(name);
  if (!instructions) throw new Error(`the Dockerfile has no stage ${name}`);
  const from = instructions[0]?.args.split(/\s+/)[0] ?? '';
  const env: Record<string, string> = stages().has(from) ? stageEnv(from) : {};
  for (const instruction of instructions.filter((item) => item.keyword === 'ENV')) {
    for (const pair of instruction.args.split(/\s+/)) {
      const eq = pair.indexOf('=');
      if (eq > 0) env[pair.slice(0, eq)] = pair.slice(eq + 1);
    }
  }
  return env;
}

/** A service's environment as its container gets it: the image's ENV, then compose's, interpolated. */
function containerEnv(service: ComposeService): Record<string, string> {
  const env = stageEnv(service.build?.target ?? 'runtime');
  for (const [key, value] of Object.entries(service.environment ?? {})) env[key] = interpolate(String(value ?? ''), dotEnv);
  return env;
}

/** Strata's own source files (no tests, builds or generated code). */
function sourceFiles(): string[] {
  const roots = ['packages/core/src', 'apps/api/src', 'apps/cli/src', 'apps/web'];
  const files: string[] = [];
  for (const root of roots) {
    for (const entry of readdirSync(join(ROOT, root), { recursive: true, withFileTypes: true })) {
      const path = join(entry.parentPath, entry.name);
      if (!entry.isFile() || !/\.(ts|tsx)$/.test(entry.name) || /node_modules|[/\\]\.next[/\\]|[/\\]generated[/\\]/.test(path)) continue;
      files.push(path);
    }
  }
  return files;
}

describe('docker-compose.yml', () => {
  it('has the services of a lab deployment, with the GPU worker behind a profile', () => {
    expect(Object.keys(services).sort()).toEqual(['api', 'db', 'migrate', 'web', 'worker', 'worker-gpu']);
    expect(services['worker-gpu']?.profiles).toEqual(['gpu']);
    const devices = services['worker-gpu']?.deploy?.resources?.reservations?.devices ?? [];
    expect(devices).toContainEqual(expect.objectContaining({ driver: 'nvidia', capabilities: ['gpu'] }));
    expect(services['worker-gpu']?.build?.target).toBe('gpu');
    expect(services['worker-gpu']?.build?.args?.ONNXRUNTIME_NODE_INSTALL).toBe('cuda12');
  });

  it.each(strataServices.map(([name]) => name))('runs a real strata command in %s', (name) => {
    const command = services[name]?.command ?? [];
    const firstOption = command.findIndex((word) => word.startsWith('-'));
    const words = firstOption < 0 ? command : command.slice(0, firstOption);
    expect(words.length, `${name} has a command`).toBeGreaterThan(0);
    const help = spawnSync(process.execPath, [CLI, ...words, '--help'], { encoding: 'utf8' });
    expect(help.status, `strata ${words.join(' ')} --help: ${help.stderr}`).toBe(0);
    expect(help.stdout).toContain(`Usage: strata ${words.join(' ')}`);
    // The option as a whole word of the help (--worker must not pass for --workers).
    for (const option of command.filter((word) => word.startsWith('--'))) {
      expect(help.stdout, `strata ${words.join(' ')} has ${option}`).toMatch(new RegExp(`(^|[\\s,])${option}(?=[\\s,<=]|$)`, 'm'));
    }
  });

  it('runs the API without workers: they are the worker service', () => {
    const command = services.api?.command ?? [];
    expect(command[command.indexOf('--workers') + 1]).toBe('0');
    expect(services.worker?.command).toEqual(['worker']);
    expect(services['worker-gpu']?.command).toEqual(['worker']);
  });

  it('runs the web app from the built Next.js app, pointed at the api service', () => {
    const web = services.web as ComposeService;
    const [node, next, start, dir] = web.entrypoint ?? [];
    expect(node).toBe('node');
    expect(existsSync(join(ROOT, (next as string).replace(/^\/app\//, '')))).toBe(true);
    expect(start).toBe('start');
    expect(dir).toBe('/app/apps/web');
    expect(parseWebEnv(containerEnv(web)).apiUrl).toBe('http://api:4000');
  });

  it('gives every strata service an environment the API accepts', () => {
    for (const [name, service] of strataServices) {
      const env = containerEnv(service);
      expect(() => loadEnv(env), name).not.toThrow();
      const parsed = loadEnv(env);
      expect(parsed.DATABASE_URL, name).toBe('postgres://strata:test0password@db:5432/strata');
      expect(parsed.dataDir, name).toBe('/var/lib/strata');
    }
    expect(loadEnv(containerEnv(services.worker as ComposeService)).STRATA_WORKER_DEVICE).toBe('cpu');
    expect(loadEnv(containerEnv(services['worker-gpu'] as ComposeService)).STRATA_WORKER_DEVICE).toBe('cuda');
  });

  it('refuses to start without a database password', () => {
    const withoutPassword = new Map(envExample);
    expect(() => interpolate(composeText(), withoutPassword)).toThrow(/POSTGRES_PASSWORD/);
  });

  it('shares one data folder and the model cache between the API and the workers', () => {
    for (const name of ['api', 'worker', 'worker-gpu']) {
      expect(services[name]?.volumes, name).toEqual(expect.arrayContaining(['data:/var/lib/strata', 'models:/var/cache/strata']));
    }
    expect(Object.keys(compose.volumes ?? {}).sort()).toEqual(['data', 'models', 'pgdata']);
    expect(services.db?.volumes).toContain('pgdata:/var/lib/postgresql/data');
  });

  it('lets workers scale: no fixed container names or host ports', () => {
    for (const name of ['worker', 'worker-gpu']) {
      expect(services[name]?.container_name, name).toBeUndefined();
      expect(services[name]?.ports, name).toBeUndefined();
    }
    for (const [name, service] of Object.entries(services)) expect(service.container_name, name).toBeUndefined();
  });

  it('pins every image it pulls, by tag and digest', () => {
    for (const [name, service] of Object.entries(services)) {
      if (service.build) {
        expect(service.image, `${name} builds a local image`).toMatch(/^strata:local(-gpu)?$/);
        continue;
      }
      expect(service.image, name).toMatch(/^[\w./-]+:[\w.-]+@sha256:[0-9a-f]{64}$/);
      expect(service.image, name).not.toMatch(/:latest\b/);
    }
    expect(services.db?.image).toMatch(/^pgvector\/pgvector:[\d.]+-pg17@/);
  });

  it('checks the health of db, api and web, and waits on it', () => {
    expect(services.db?.healthcheck?.test).toEqual(expect.arrayContaining(['pg_isready']));
    expect(services.api?.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:4000/healthz');
    expect(services.web?.healthcheck?.test.join(' ')).toContain('http://127.0.0.1:3000/login');
    expect(existsSync(join(ROOT, 'apps/web/app/login/page.tsx'))).toBe(true);
    for (const [name, service] of Object.entries(services)) {
      for (const [dependency, { condition }] of Object.entries(service.depends_on ?? {})) {
        expect(services[dependency], `${name} depends on ${dependency}`).toBeDefined();
        if (condition === 'service_healthy') expect(services[dependency]?.healthcheck, `${dependency} has a healthcheck`).toBeDefined();
        if (condition === 'service_completed_successfully') expect(services[dependency]?.command).toEqual(['db', 'migrate']);
      }
    }
    const afterMigrations = { db: { condition: 'service_healthy' }, migrate: { condition: 'service_completed_successfully' } };
    for (const name of ['api', 'worker', 'worker-gpu']) expect(services[name]?.depends_on, name).toEqual(afterMigrations);
    expect(services.migrate?.depends_on).toEqual({ db: { condition: 'service_healthy' } });
    expect(services.web?.depends_on).toEqual({ api: { condition: 'service_healthy' } });
  });
});

describe('.env.example', () => {
  it('documents every variable docker-compose.yml uses, and no others', () => {
    const used = referencedVariables(composeText());
    expect([...used].filter((name) => !envExample.has(name)), 'used but not in .env.example').toEqual([]);
    expect([...envExample.keys()].filter((name) => !used.has(name)), 'in .env.example but unused').toEqual([]);
  });

  it('names only STRATA_* variables that Strata reads', () => {
    const sources = sourceFiles().map((path) => readFileSync(path, 'utf8'));
    const strataVars = new Set([
      ...[...envExample.keys()].filter((name) => name.startsWith('STRATA_')),
      ...strataServices.flatMap(([, service]) => Object.keys(containerEnv(service))).filter((name) => name.startsWith('STRATA_')),
      ...Object.keys(containerEnv(services.web as ComposeService)).filter((name) => name.startsWith('STRATA_')),
    ]);
    expect(strataVars.size).toBeGreaterThan(10);
    const unread = [...strataVars].filter((name) => !sources.some((text) => new RegExp(`\\b${name}\\b`).test(text)));
    expect(unread, 'set for Strata but read nowhere in apps/ or packages/').toEqual([]);
  });

  it('keeps the rest out of the STRATA_ namespace and parses with empty values as defaults', () => {
    const others = [...envExample.keys()].filter((name) => !name.startsWith('STRATA_'));
    expect(others.sort()).toEqual(['API_PORT', 'BIND_ADDRESS', 'POSTGRES_PASSWORD', 'STIMULI_DIR', 'WEB_PORT']);
    const env = loadEnv({ STRATA_API_PORT: '', STRATA_WORKER_DEVICE: '', STRATA_PUBLIC_URL: '', STRATA_DATA_DIR: '', HOME: '/home/lab' });
    expect(env.STRATA_API_PORT).toBe(4000);
    expect(env.STRATA_WORKER_DEVICE).toBe('cpu');
    expect(env.STRATA_PUBLIC_URL).toBeUndefined();
    expect(() => loadEnv({ STRATA_WORKER_DEVICE: 'tpu' })).toThrow(/STRATA_WORKER_DEVICE/);
  });
});

describe('Dockerfile', () => {
  const all = stages();

  it('pins its base images by version and digest', () => {
    const args = dockerfile.filter((item) => item.keyword === 'ARG' && /_IMAGE=/.test(item.args));
    expect(args.length).toBe(2);
    for (const arg of args) expect(arg.args, `line ${arg.line}`).toMatch(/^\w+=[\w./-]+:\d[\w.-]*@sha256:[0-9a-f]{64}$/);
    for (const from of dockerfile.filter((item) => item.keyword === 'FROM')) {
      const image = from.args.split(/\s+/)[0] as string;
      expect(all.has(image) || /^\$\{\w+_IMAGE\}$/.test(image), `line ${from.line}: FROM ${image}`).toBe(true);
    }
  });

  it('installs every workspace, with the .npmrc that skips the CUDA download', () => {
    const workspaces = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { workspaces: string[] }).workspaces;
    const manifests = workspaces.flatMap((pattern) =>
      pattern.endsWith('/*')
        ? readdirSync(join(ROOT, pattern.slice(0, -2)), { withFileTypes: true })
            .filter((entry) => entry.isDirectory() && existsSync(join(ROOT, pattern.slice(0, -2), entry.name, 'package.json')))
            .map((entry) => `${pattern.slice(0, -2)}/${entry.name}/package.json`)
        : [`${pattern}/package.json`],
    );
    const deps = all.get('deps') ?? [];
    const copied = deps.filter((item) => item.keyword === 'COPY').flatMap((item) => item.args.split(/\s+/).slice(0, -1));
    for (const manifest of manifests) expect(copied, `npm ci needs ${manifest}`).toContain(manifest);
    expect(copied).toContain('.npmrc');
    expect(readFileSync(join(ROOT, '.npmrc'), 'utf8')).toMatch(/^onnxruntime-node-install=skip$/m);
    expect(deps.map((item) => `${item.keyword} ${item.args}`)).toContain('RUN npm ci');
  });

  it('copies only files the build context has', () => {
    for (const copy of dockerfile.filter((item) => item.keyword === 'COPY')) {
      const words = copy.args.split(/\s+/);
      const from = words.find((word) => word.startsWith('--from='))?.slice('--from='.length);
      const sources = words.filter((word) => !word.startsWith('--')).slice(0, -1);
      expect(sources.length, `line ${copy.line}`).toBeGreaterThan(0);
      if (from === undefined) {
        for (const source of sources) {
          expect(existsSync(join(ROOT, source)), `line ${copy.line}: ${source} exists`).toBe(true);
          expect(dockerIgnores(source), `line ${copy.line}: .dockerignore keeps ${source} out`).toBe(false);
        }
        continue;
      }
      expect(all.has(from), `line ${copy.line}: stage ${from}`).toBe(true);
      if (from !== 'build') continue;
      // From the build stage: a file of the repository, or what a build script writes.
      for (const source of sources.map((path) => path.replace(/^\/app\//, ''))) {
        const output = /^(.+?)\/(dist|\.next)$/.exec(source);
        if (output) {
          const turbo = JSON.parse(readFileSync(join(ROOT, existsSync(join(ROOT, output[1] as string, 'turbo.json')) ? `${output[1]}/turbo.json` : 'turbo.json'), 'utf8')) as {
            tasks: { build: { outputs: string[] } };
          };
          expect(turbo.tasks.build.outputs, `line ${copy.line}: ${source} is a build output`).toContain(`${output[2]}/**`);
        } else {
          expect(existsSync(join(ROOT, source)), `line ${copy.line}: ${source} exists`).toBe(true);
        }
      }
    }
  });

  it('starts the strata CLI as an unprivileged user, in both images', () => {
    for (const name of ['runtime', 'gpu']) {
      const instructions = all.get(name) ?? [];
      expect(instructions.find((item) => item.keyword === 'ENTRYPOINT')?.args, name).toBe('["node", "/app/apps/cli/bin/strata.js"]');
      expect(instructions.find((item) => item.keyword === 'USER')?.args, name).toBe('1000:1000');
    }
    expect(existsSync(join(ROOT, 'apps/cli/bin/strata.js'))).toBe(true);
    expect(stageEnv('gpu').STRATA_WORKER_DEVICE).toBe('cuda');
    expect(stageEnv('runtime').STRATA_DATA_DIR).toBe('/var/lib/strata');
  });

  it('keeps secrets and host builds out of the context', () => {
    for (const path of ['.env', 'node_modules/onnxruntime-node', 'packages/core/dist/index.js', 'apps/web/.next/BUILD_ID', 'test/api.test.ts', '.git/HEAD']) {
      expect(dockerIgnores(path), path).toBe(true);
    }
    for (const path of ['.env.example', 'test/package.json', 'bench/package.json', 'packages/core/src/index.ts', 'prisma/migrations']) {
      expect(dockerIgnores(path), path).toBe(false);
    }
  });
});
