#!/usr/bin/env node
// Regenerates the Prisma client committed in packages/core/src/store/generated from
// prisma/schema.prisma, offline: `prisma generate` needs no database, but Prisma's CLI insists
// on a schema-engine binary it would otherwise download, so it gets a stub that generation
// never runs.
//   node prisma/generate.mjs           regenerate in place
//   node prisma/generate.mjs --check   regenerate into a scratch copy and fail if the committed client differs
import { spawnSync } from 'node:child_process';
import { chmodSync, cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join, relative, resolve } from 'node:path';

const root = resolve(import.meta.dirname, '..');
const GENERATED = 'packages/core/src/store/generated';
const check = process.argv.includes('--check');
const work = mkdtempSync(join(tmpdir(), 'strata-prisma-generate-'));

function listFiles(dir) {
  if (!existsSync(dir)) return [];
  return readdirSync(dir, { recursive: true, withFileTypes: true })
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))
    .sort();
}

try {
  const stub = join(work, 'schema-engine-stub');
  writeFileSync(stub, '#!/bin/sh\necho "schema engine not available (strata generates offline)" >&2\nexit 1\n');
  chmodSync(stub, 0o755);
  // --check generates from a copy of prisma/ so that the output (relative to the schema) lands in the scratch tree.
  const base = check ? join(work, 'tree') : root;
  if (check) {
    mkdirSync(join(base, 'prisma'), { recursive: true });
    cpSync(join(root, 'prisma/schema.prisma'), join(base, 'prisma/schema.prisma'));
  }
  const cli = createRequire(join(root, 'package.json')).resolve('prisma/build/index.js');
  const result = spawnSync(process.execPath, [cli, 'generate', '--schema', join(base, 'prisma/schema.prisma')], {
    cwd: root,
    stdio: check ? 'pipe' : 'inherit',
    encoding: 'utf8',
    env: { ...process.env, PRISMA_SCHEMA_ENGINE_BINARY: stub, CHECKPOINT_DISABLE: '1', PRISMA_HIDE_UPDATE_MESSAGE: '1' },
  });
  if (result.status !== 0) {
    if (check) process.stderr.write(`${result.stdout}${result.stderr}`);
    process.exitCode = result.status ?? 1;
  } else if (check) {
    const fresh = join(base, GENERATED);
    const committed = join(root, GENERATED);
    const names = [...new Set([...listFiles(fresh), ...listFiles(committed)])];
    const stale = names.filter((name) => {
      const a = join(fresh, name);
      const b = join(committed, name);
      return !existsSync(a) || !existsSync(b) || !readFileSync(a).equals(readFileSync(b));
    });
    if (stale.length > 0) {
      console.error(`${GENERATED} is out of date with prisma/schema.prisma (${stale.join(', ')}); run: node prisma/generate.mjs`);
      process.exitCode = 1;
    } else {
      console.log(`${GENERATED} matches prisma/schema.prisma`);
    }
  }
} finally {
  rmSync(work, { recursive: true, force: true });
}
