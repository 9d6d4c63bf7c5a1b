/**
 * The lab server from the command line: `strata serve` (API + workers + the embedded database
 * unless DATABASE_URL names a server), `strata worker` (one more worker, on this or another
 * machine) and `strata token` (API tokens, shown once, stored hashed). See docs/deploy.md.
 */
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { databaseUrlFor, loadEnv, openApiStore, serve, startWorker } from '@strata/api';
import { parseExecutionProvider } from '@strata/core/model';
import { parseRole } from '@strata/core/auth';
import { createApiToken, listApiTokens, redactUrl, revokeApiToken } from '@strata/core/store';
import { parseInteger } from '../parse.js';
import { DATA_OPTION } from './db.js';

function dataDirOf(options: { data?: string }): string {
  return options.data ? resolve(options.data) : loadEnv().dataDir;
}

/** Resolves on SIGINT/SIGTERM. */
function untilSignal(): Promise<string> {
  return new Promise((done) => {
    process.once('SIGINT', () => done('SIGINT'));
    process.once('SIGTERM', () => done('SIGTERM'));
  });
}

export function registerServe(program: Command): void {
  program
    .command('serve')
    .description('run the GraphQL API with its job workers (and the embedded database unless DATABASE_URL is set)')
    .option('--port <n>', 'HTTP port (0: any free one)', undefined)
    .option('--host <address>', 'address to listen on (0.0.0.0 for the lab network; default 127.0.0.1 or $STRATA_API_HOST)')
    .option('--workers <n>', 'worker processes to run beside the API (default $STRATA_WORKERS or 1; 0 when workers run elsewhere)')
    .option(...DATA_OPTION)
    .action(async (options: { port?: string; host?: string; workers?: string; data?: string }) => {
      const env = loadEnv();
      const handle = await serve({
        env,
        dataDir: dataDirOf(options),
        ...(options.port !== undefined ? { port: parseInteger(options.port, '--port') } : {}),
        ...(options.host !== undefined ? { host: options.host } : {}),
        ...(options.workers !== undefined ? { workers: parseInteger(options.workers, '--workers') } : {}),
        log: (line) => process.stderr.write(`${line}\n`),
      });
      const database = handle.embedded ? `embedded database in ${handle.dataDir} (for other processes: ${handle.databaseUrl})` : `Postgres server ${redactUrl(handle.databaseUrl)}`;
      console.log(`Strata API listening on ${handle.api.url}/graphql`);
      console.log(`  ${database}`);
      console.log(`  ${handle.workerPids().length} worker(s): pid ${handle.workerPids().join(', ') || '-'}`);
      if (env.STRATA_IMPORT_ROOTS.length === 0) console.log('  no import roots (STRATA_IMPORT_ROOTS): datasets come from uploads only');
      if (env.STRATA_MODELS.length === 0) console.log('  no models (STRATA_MODELS): datasets cannot be created through the API');
      const signal = await untilSignal();
      console.log(`${signal}: stopping`);
      await handle.close();
    });

  program
    .command('worker')
    .description('run one job worker (extraction, maps, comparisons) on DATABASE_URL, or on the embedded database of a running `strata serve --data DIR`')
    .option('--threads <n>', 'inference threads (default $STRATA_WORKER_THREADS, else all cores)')
    .option('--device <name>', 'where extractions run the model: cpu or cuda (default $STRATA_WORKER_DEVICE, else cpu)')
    .option(...DATA_OPTION)
    .action(async (options: { threads?: string; device?: string; data?: string }) => {
      const env = loadEnv();
      const dataDir = dataDirOf(options);
      const threads = options.threads !== undefined ? parseInteger(options.threads, '--threads', { min: 1 }) : env.STRATA_WORKER_THREADS;
      const device = options.device !== undefined ? parseExecutionProvider(options.device) : env.STRATA_WORKER_DEVICE;
      const worker = await startWorker({
        databaseUrl: databaseUrlFor(env, dataDir),
        dataDir,
        retryLimit: env.STRATA_JOB_RETRY_LIMIT,
        pollSeconds: env.STRATA_WORKER_POLL_SECONDS,
        heartbeatSeconds: env.STRATA_WORKER_HEARTBEAT_SECONDS,
        staleSeconds: env.STRATA_WORKER_STALE_SECONDS,
        ...(threads ? { threads } : {}),
        executionProvider: device,
        log: (line) => process.stderr.write(`${line}\n`),
      });
      console.log(`worker ${worker.id} waiting for jobs`);
      const signal = await untilSignal();
      console.log(`${signal}: stopping (a running job is handed back to the queue)`);
      await worker.stop();
    });

  const token = program.command('token').description('API tokens for `strata serve`: created with a role, shown once, stored as sha256');

  token
    .command('create')
    .description('create a token and print it (only this once)')
    .requiredOption('--name <user>', 'the user it belongs to (datasets they create are theirs)')
    .option('--role <role>', 'viewer (read), editor (create datasets, start jobs) or admin (everything)', 'viewer')
    .option('--note <text>', 'a note kept with it (what it is for)')
    .option('--json', 'print {"token", "id", "user", "role"} as JSON')
    .option(...DATA_OPTION)
    .action(async (options: { name: string; role: string; note?: string; json?: boolean; data?: string }) => {
      const role = parseRole(options.role);
      const store = await openApiStore(loadEnv(), dataDirOf(options));
      try {
        const { token: secret, record } = await createApiToken(store, { user: options.name, role, ...(options.note ? { note: options.note } : {}) });
        if (options.json) {
          console.log(JSON.stringify({ token: secret, id: record.id, user: record.user, role: record.role }));
        } else {
          console.log(secret);
          process.stderr.write(`token ${record.id} (${record.label}…) for ${record.user}, role ${record.role}; it is not stored and cannot be shown again\n`);
        }
      } finally {
        await store.close();
      }
    });

  token
    .command('list')
    .description('list tokens (never their secrets)')
    .option(...DATA_OPTION)
    .action(async (options: { data?: string }) => {
      const store = await openApiStore(loadEnv(), dataDirOf(options));
      try {
        for (const record of await listApiTokens(store)) {
          const state = record.revokedAt ? `revoked ${record.revokedAt.toISOString()}` : `last used ${record.lastUsedAt?.toISOString() ?? 'never'}`;
          console.log(`${String(record.id).padStart(4)}  ${record.label}…  ${record.user.padEnd(16)} ${record.role.padEnd(6)}  ${state}${record.note ? `  (${record.note})` : ''}`);
        }
      } finally {
        await store.close();
      }
    });

  token
    .command('revoke')
    .description('revoke a token by id or label (strata_xxxxxx); it stops working within 30 seconds')
    .argument('<token>', 'id or label')
    .option(...DATA_OPTION)
    .action(async (which: string, options: { data?: string }) => {
      const store = await openApiStore(loadEnv(), dataDirOf(options));
      try {
        const record = await revokeApiToken(store, /^\d+$/.test(which) ? Number(which) : which);
        console.log(`revoked token ${record.id} (${record.label}…) of ${record.user}`);
      } finally {
        await store.close();
      }
    });
}
