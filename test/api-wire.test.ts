/**
 * The embedded database's wire server (apps/api/src/db/pglite-wire-server.ts): many `pg`
 * connections on one PGlite without their extended-protocol exchanges or transactions mixing,
 * a dropped connection's transaction rolled back, and pg-boss 10 working over it with two
 * workers — what `strata serve` relies on when no DATABASE_URL is set.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PGlite } from '@electric-sql/pglite';
import { vector } from '@electric-sql/pglite-pgvector';
import pg from 'pg';
import PgBoss from 'pg-boss';
import { PgliteWireServer } from '@strata/api';
import { tempDir } from './helpers.js';

let db: PGlite;
let server: PgliteWireServer;
let url: string;

beforeAll(async () => {
  const dir = tempDir('api-wire');
  db = await PGlite.create({ dataDir: join(dir, 'pglite'), extensions: { vector } });
  server = new PgliteWireServer({ db, socketDir: join(dir, 'run') });
  url = await server.listen();
});

afterAll(async () => {
  await server?.close();
  await db?.close();
});

describe('PgliteWireServer', () => {
  it('keeps 2,000 concurrent queries and transactions of 10 connections apart', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 10 });
    try {
      await pool.query('CREATE TABLE t (id int PRIMARY KEY, v text)');
      const work: Promise<void>[] = [];
      for (let i = 0; i < 2000; i++) {
        if (i % 3 === 0) {
          work.push(pool.query('INSERT INTO t (id, v) VALUES ($1, $2) RETURNING id', [i, `x${i}`]).then((r) => expect(r.rows[0].id).toBe(i)));
        } else if (i % 3 === 1) {
          work.push(
            pool.query('SELECT $1::int + 1 AS n, $2::text AS s', [i, `s${i}`]).then((r) => {
              expect(r.rows[0]).toEqual({ n: i + 1, s: `s${i}` });
            }),
          );
        } else {
          work.push(
            (async () => {
              const client = await pool.connect();
              try {
                await client.query('BEGIN');
                await client.query('INSERT INTO t (id, v) VALUES ($1, $2)', [i, 'tx']);
                const seen = await client.query('SELECT count(*)::int AS n FROM t WHERE id = $1', [i]);
                expect(seen.rows[0].n).toBe(1);
                await client.query(i % 2 === 0 ? 'COMMIT' : 'ROLLBACK');
              } finally {
                client.release();
              }
            })(),
          );
        }
      }
      await Promise.all(work);
      const inserted = 667 + Array.from({ length: 2000 }, (_, i) => i).filter((i) => i % 3 === 2 && i % 2 === 0).length;
      expect((await pool.query('SELECT count(*)::int AS n FROM t')).rows[0].n).toBe(inserted);
    } finally {
      await pool.end();
    }
  });

  it('streams large results whole, to several connections at once', async () => {
    const pool = new pg.Pool({ connectionString: url, max: 4 });
    try {
      await pool.query(`CREATE TABLE big AS SELECT g AS id, repeat(md5(g::text), 4) AS v FROM generate_series(1, 200000) g`);
      // More than a socket takes at once: the server must not hand it PGlite's reused memory.
      const results = await Promise.all([1, 2, 3, 4].map(() => pool.query('SELECT id, v FROM big ORDER BY id')));
      for (const result of results) {
        expect(result.rows).toHaveLength(200000);
        expect(result.rows[199999]).toEqual({ id: 200000, v: expect.stringMatching(/^[0-9a-f]{128}$/) });
      }
    } finally {
      await pool.end();
    }
  });

  it('rolls back the open transaction of a connection that drops, and lets the others go on', async () => {
    const client = new pg.Client({ connectionString: url });
    client.on('error', () => undefined);
    await client.connect();
    await client.query('CREATE TABLE IF NOT EXISTS dropped (id int)');
    await client.query('BEGIN');
    await client.query('INSERT INTO dropped VALUES (1)');
    (client as unknown as { connection: { stream: { destroy(): void } } }).connection.stream.destroy();
    const other = new pg.Client({ connectionString: url });
    await other.connect();
    try {
      expect((await other.query('SELECT count(*)::int AS n FROM dropped')).rows[0].n).toBe(0);
    } finally {
      await other.end();
    }
  });

  it('carries pg-boss 10: two workers share a queue, a failing job is retried', async () => {
    const bosses = [new PgBoss({ connectionString: url, max: 3 }), new PgBoss({ connectionString: url, max: 3 })];
    try {
      for (const boss of bosses) {
        boss.on('error', () => undefined);
        await boss.start();
      }
      await (bosses[0] as PgBoss).createQueue('wire_test', { name: 'wire_test', retryLimit: 2, retryDelay: 1 });
      const seen: { worker: number; n: number; retry: number }[] = [];
      for (const [worker, boss] of bosses.entries()) {
        await boss.work<{ n: number }>('wire_test', { pollingIntervalSeconds: 0.5, includeMetadata: true }, async ([job]) => {
          if (!job) return;
          seen.push({ worker, n: job.data.n, retry: job.retryCount });
          if (job.data.n === 3 && job.retryCount === 0) throw new Error('first attempt fails');
        });
      }
      const ids: string[] = [];
      for (let n = 0; n < 6; n++) ids.push((await (bosses[0] as PgBoss).send('wire_test', { n })) as string);
      const deadline = Date.now() + 60_000;
      let states: (string | undefined)[] = [];
      while (Date.now() < deadline) {
        states = await Promise.all(ids.map(async (id) => (await (bosses[0] as PgBoss).getJobById('wire_test', id))?.state));
        if (states.every((state) => state === 'completed')) break;
        await new Promise((resolve) => setTimeout(resolve, 500));
      }
      expect(states).toEqual(Array(6).fill('completed'));
      expect(seen.filter((entry) => entry.n === 3).map((entry) => entry.retry)).toEqual([0, 1]);
    } finally {
      for (const boss of bosses) await boss.stop({ graceful: false, wait: true }).catch(() => undefined);
    }
  });
});
