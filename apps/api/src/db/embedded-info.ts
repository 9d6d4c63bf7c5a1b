/**
 * Where a running embedded database can be reached: <data>/embedded-db.json, written by its
 * process (./embedded-process.ts) and removed when it stops. Other commands on the same data
 * folder (`strata worker`, `strata token`) connect through it instead of opening PGlite, which
 * one process at a time may hold.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

export const EMBEDDED_INFO_FILE = 'embedded-db.json';

export interface EmbeddedInfo {
  readonly pid: number;
  readonly url: string;
  readonly dataDir: string;
  readonly startedAt: string;
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** The running embedded database of `dataDir`, or null when none runs. */
export function runningEmbeddedDatabase(dataDir: string): EmbeddedInfo | null {
  try {
    const info = JSON.parse(readFileSync(join(dataDir, EMBEDDED_INFO_FILE), 'utf8')) as EmbeddedInfo;
    return Number.isInteger(info.pid) && typeof info.url === 'string' && alive(info.pid) ? info : null;
  } catch {
    return null;
  }
}
