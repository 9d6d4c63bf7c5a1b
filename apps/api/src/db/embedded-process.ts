/**
 * The embedded database's own process: PGlite (Postgres in WASM, with pgvector) on the data
 * folder, served over the Postgres wire protocol on a private unix socket. `strata serve`
 * forks it; the API and the workers connect to it like to any Postgres server, so PGlite's
 * long synchronous queries block this process only, never theirs.
 *
 * argv: <data folder>. Tells its parent `{ type: 'ready', url }` over IPC, writes the URL to
 * <data>/embedded-db.json for `strata worker` and `strata token`, and stops when its parent
 * goes away or on SIGTERM/SIGINT.
 */
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import { dataDirLayout, lockDirectory } from '@strata/core/store';
import { PgliteWireServer, socketDirFor } from './pglite-wire-server.js';
import { EMBEDDED_INFO_FILE, type EmbeddedInfo } from './embedded-info.js';

const dataDir = process.argv[2];
if (!dataDir) {
  process.stderr.write('usage: embedded-process <data folder>\n');
  process.exit(2);
}
const layout = dataDirLayout(dataDir);
const log = (line: string) => process.stderr.write(`embedded database: ${line}\n`);

let release: (() => void) | undefined;
let db: PGlite | undefined;
let server: PgliteWireServer | undefined;
const infoPath = join(layout.root, EMBEDDED_INFO_FILE);

async function shutdown(code: number): Promise<never> {
  try {
    await server?.close();
    await db?.close();
  } catch (error) {
    log(`stopping: ${error instanceof Error ? error.message : String(error)}`);
  } finally {
    rmSync(infoPath, { force: true });
    release?.();
  }
  process.exit(code);
}

try {
  release = lockDirectory(layout.pglite);
  db = await PGlite.create({ dataDir: layout.pglite, extensions: { vector } });
  server = new PgliteWireServer({ db, socketDir: socketDirFor(join(layout.root, 'run')), log });
  const url = await server.listen();
  const info: EmbeddedInfo = { pid: process.pid, url, dataDir: layout.root, startedAt: new Date().toISOString() };
  writeFileSync(infoPath, `${JSON.stringify(info, null, 2)}\n`, { mode: 0o600 });
  process.send?.({ type: 'ready', url });
} catch (error) {
  const message = error instanceof Error ? error.message : String(error);
  process.send?.({ type: 'error', message });
  log(message);
  await shutdown(1);
}

process.on('SIGTERM', () => void shutdown(0));
process.on('SIGINT', () => void shutdown(0));
// The parent (strata serve) died or let go: nobody will stop us otherwise.
process.on('disconnect', () => void shutdown(0));
