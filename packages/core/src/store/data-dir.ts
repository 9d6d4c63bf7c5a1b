/**
 * Where Strata keeps its state: the embedded database, PCA bases and ingest scratch files,
 * all under one data folder, and the lock that keeps two processes off one embedded database.
 */
import { closeSync, mkdirSync, openSync, readFileSync, rmSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import { join, resolve } from 'node:path';

/**
 * The data folder: $STRATA_DATA_DIR, else $XDG_DATA_HOME/strata, else ~/.local/share/strata.
 * Apps should pass the environment they parsed.
 */
export function defaultDataDir(env: Readonly<Record<string, string | undefined>> = process.env, home = homedir()): string {
  if (env.STRATA_DATA_DIR) return resolve(env.STRATA_DATA_DIR);
  if (env.XDG_DATA_HOME) return join(env.XDG_DATA_HOME, 'strata');
  return join(home, '.local', 'share', 'strata');
}

/** The files of a data folder. Paths stored in the database are relative to `root`. */
export interface DataDirLayout {
  readonly root: string;
  /** PGlite's Postgres cluster (unused with a server). */
  readonly pglite: string;
  /** PCA bases, one file per fitted layer. */
  readonly bases: string;
  /** Resumable scratch work of ingests (activation samples), removed when an ingest finishes. */
  readonly work: string;
}

export function dataDirLayout(root: string): DataDirLayout {
  const absolute = resolve(root);
  return { root: absolute, pglite: join(absolute, 'pglite'), bases: join(absolute, 'bases'), work: join(absolute, 'work') };
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * Takes `<dir>.lock` for this process. PGlite is a single-user Postgres: two processes on one
 * data folder would corrupt it, so a second one is refused while the first lives. A lock left
 * by a dead process (kill -9, crash) is taken over. Returns the release function.
 */
export function lockDirectory(dir: string): () => void {
  const path = `${dir}.lock`;
  mkdirSync(resolve(dir, '..'), { recursive: true });
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(path, 'wx');
      writeSync(fd, String(process.pid));
      closeSync(fd);
      return () => rmSync(path, { force: true });
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number(readFileSync(path, 'utf8').trim());
      if (Number.isInteger(pid) && pid > 0 && processAlive(pid)) {
        const who = pid === process.pid ? 'another store of this process' : `process ${pid}`;
        throw new Error(`the database in ${dir} is in use by ${who}; the embedded database allows one process at a time (set DATABASE_URL to share a Postgres server)`);
      }
      rmSync(path, { force: true });
    }
  }
  throw new Error(`could not lock ${dir} (${path})`);
}
