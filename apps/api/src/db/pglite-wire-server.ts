/**
 * A Postgres wire-protocol server in front of one PGlite instance, so that the API, the
 * workers and pg-boss reach the embedded database through the same `pg` code path as a real
 * server, from other processes.
 *
 * PGlite is one single-user backend. Several client connections can share it only if each
 * exchange runs alone: this server hands the backend to one connection at a time and keeps it
 * with that connection until the exchange is over — after a Sync (extended protocol) or a
 * simple Query — and, when the exchange left a transaction open, until the transaction ends.
 *
 * Why not `PGLiteSocketServer` (@electric-sql/pglite-socket 0.2.17, maxConnections > 1): it
 * queues single messages and keeps connection affinity only while a transaction is open, so
 * the Parse/Bind/Execute/Sync messages of two connections interleave and one connection binds
 * the other's unnamed statement (electric-sql/pglite#1046, open), and a throw inside its queue
 * stops the queue for good. Both are fixed here by the exchange lock and a per-call try/finally.
 *
 * What stays shared, because there is one backend: session settings (SET without LOCAL),
 * named prepared statements, temporary tables, advisory locks held at session level, LISTEN.
 * Strata's clients (Prisma's pg adapter, pg-boss) use none across exchanges.
 */
import { chmodSync, mkdirSync, rmSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname } from 'node:path';
import type { PGlite } from '@electric-sql/pglite';

const SSL_REQUEST = 80877103;
const GSSENC_REQUEST = 80877104;
const CANCEL_REQUEST = 80877102;
const PROTOCOL_3 = 196608;
/** Largest frontend message accepted (a COPY chunk or a big vector batch stays far below). */
const MAX_MESSAGE = 256 * 1024 * 1024;

export interface WireServerOptions {
  readonly db: PGlite;
  /** Unix socket file: `<dir>/.s.PGSQL.<port>`, the layout libpq and node-postgres expect. */
  readonly socketDir?: string;
  /** Port number in the socket file's name (or the TCP port when `host` is given). Default 5432. */
  readonly port?: number;
  /** Listen on TCP at this host instead of a unix socket (loopback only: there is no authentication). */
  readonly host?: string;
  /**
   * A connection that holds the backend (mid-exchange or in a transaction) and sends nothing
   * for this long is closed and its transaction rolled back, so that one stuck client cannot
   * stop every other. Default 120,000 ms.
   */
  readonly idleHoldTimeoutMs?: number;
  readonly log?: (line: string) => void;
}

export interface WireServerStats {
  readonly connections: number;
  readonly waiting: number;
  readonly exchanges: number;
}

interface Connection {
  readonly id: number;
  readonly socket: Socket;
  buffer: Buffer;
  started: boolean;
  /** Messages parsed but not yet run, in arrival order; type '' is the startup message. */
  readonly pending: { readonly type: string; readonly data: Buffer }[];
  running: boolean;
  /** Inside an extended-protocol exchange (messages sent since the last Sync). */
  midExchange: boolean;
  closed: boolean;
  idleTimer: NodeJS.Timeout | undefined;
}

export class PgliteWireServer {
  readonly #db: PGlite;
  readonly #options: WireServerOptions;
  readonly #server: Server;
  readonly #connections = new Set<Connection>();
  /** The connection that holds the backend, and those waiting for it (FIFO). */
  #owner: Connection | null = null;
  readonly #waiters: { connection: Connection; resume: () => void }[] = [];
  #nextId = 1;
  #exchanges = 0;
  #address = '';

  constructor(options: WireServerOptions) {
    if (!options.socketDir && !options.host) throw new TypeError('PgliteWireServer needs socketDir (a unix socket) or host (TCP)');
    if (options.host && !['127.0.0.1', '::1', 'localhost'].includes(options.host)) {
      throw new RangeError(`the embedded database server has no authentication and listens on loopback only; got host "${options.host}"`);
    }
    this.#db = options.db;
    this.#options = options;
    this.#server = createServer((socket) => this.#accept(socket));
  }

  /** Listens; resolves to the postgres:// URL clients connect with. */
  async listen(): Promise<string> {
    const port = this.#options.port ?? 5432;
    if (this.#options.socketDir) {
      const dir = this.#options.socketDir;
      mkdirSync(dir, { recursive: true, mode: 0o700 });
      // Only this user may connect: the socket's folder is private.
      chmodSync(dir, 0o700);
      const path = `${dir}/.s.PGSQL.${port}`;
      if (path.length > 100) throw new RangeError(`unix socket path ${path} is ${path.length} characters; at most 100 fit in sockaddr_un`);
      rmSync(path, { force: true });
      await new Promise<void>((resolve, reject) => {
        this.#server.once('error', reject);
        this.#server.listen(path, () => resolve());
      });
      this.#address = path;
      return `postgres://postgres@localhost/postgres?host=${encodeURIComponent(dir)}&port=${port}`;
    }
    const host = this.#options.host as string;
    await new Promise<void>((resolve, reject) => {
      this.#server.once('error', reject);
      this.#server.listen(port, host, () => resolve());
    });
    const address = this.#server.address();
    const actual = typeof address === 'object' && address ? address.port : port;
    this.#address = `${host}:${actual}`;
    return `postgres://postgres@${host.includes(':') ? `[${host}]` : host}:${actual}/postgres`;
  }

  get address(): string {
    return this.#address;
  }

  stats(): WireServerStats {
    return { connections: this.#connections.size, waiting: this.#waiters.length, exchanges: this.#exchanges };
  }

  /** Stops accepting, closes every connection (rolling back what they left open). */
  async close(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      for (const connection of this.#connections) connection.socket.destroy();
    });
    // Wait for the closing connections to hand the backend back.
    while (this.#owner !== null || this.#connections.size > 0) await new Promise((resolve) => setTimeout(resolve, 10));
    if (this.#options.socketDir) rmSync(this.#address, { force: true });
  }

  #log(line: string): void {
    this.#options.log?.(line);
  }

  #accept(socket: Socket): void {
    socket.setNoDelay(true);
    const connection: Connection = {
      id: this.#nextId++,
      socket,
      buffer: Buffer.alloc(0),
      started: false,
      pending: [],
      running: false,
      midExchange: false,
      closed: false,
      idleTimer: undefined,
    };
    this.#connections.add(connection);
    socket.on('data', (data) => {
      connection.buffer = connection.buffer.length === 0 ? data : Buffer.concat([connection.buffer, data]);
      try {
        this.#split(connection);
      } catch (error) {
        this.#log(`connection ${connection.id}: ${error instanceof Error ? error.message : String(error)}`);
        socket.destroy();
        return;
      }
      void this.#drain(connection);
    });
    socket.on('error', () => socket.destroy());
    socket.on('close', () => void this.#closed(connection));
  }

  /** Cuts complete messages off the connection's buffer. */
  #split(connection: Connection): void {
    for (;;) {
      const buffer = connection.buffer;
      if (!connection.started) {
        // Startup-phase messages have no type byte: length, then a code.
        if (buffer.length < 8) return;
        const length = buffer.readInt32BE(0);
        if (length < 8 || length > 10_000) throw new Error(`bad startup message length ${length}`);
        if (buffer.length < length) return;
        const code = buffer.readInt32BE(4);
        const message = buffer.subarray(0, length);
        connection.buffer = buffer.subarray(length);
        if (code === SSL_REQUEST || code === GSSENC_REQUEST) {
          // No TLS on a private socket: 'N' tells the client to go on in plain text.
          connection.socket.write('N');
          continue;
        }
        if (code === CANCEL_REQUEST) {
          // There is no second backend to signal; a cancel request is dropped, as Postgres
          // drops one for an unknown key.
          connection.socket.end();
          return;
        }
        if (code !== PROTOCOL_3) throw new Error(`unsupported protocol version ${code >> 16}.${code & 0xffff}`);
        connection.started = true;
        connection.pending.push({ type: '', data: Buffer.from(message) });
        continue;
      }
      if (buffer.length < 5) return;
      const length = buffer.readInt32BE(1);
      if (length < 4 || length > MAX_MESSAGE) throw new Error(`bad message length ${length} (type ${String.fromCharCode(buffer[0] as number)})`);
      if (buffer.length < length + 1) return;
      connection.pending.push({ type: String.fromCharCode(buffer[0] as number), data: Buffer.from(buffer.subarray(0, length + 1)) });
      connection.buffer = buffer.subarray(length + 1);
    }
  }

  /** Runs the connection's pending messages in order, each while holding the backend. */
  async #drain(connection: Connection): Promise<void> {
    if (connection.running) return;
    connection.running = true;
    try {
      while (connection.pending.length > 0 && !connection.closed) {
        const { type, data: message } = connection.pending.shift() as { type: string; data: Buffer };
        if (type === 'X') {
          // Terminate: the client is leaving; never pass it to the single backend.
          connection.socket.end();
          return;
        }
        await this.#acquire(connection);
        if (connection.closed) return;
        this.#clearIdle(connection);
        try {
          await this.#db.execProtocolRawStream(new Uint8Array(message.buffer, message.byteOffset, message.byteLength), {
            onRawData: (data) => {
              // A copy: `data` is a view of PGlite's memory, reused by the next chunk, and a
              // socket that cannot take it at once keeps a reference until it can.
              if (!connection.closed && data.length > 0) connection.socket.write(Buffer.from(data));
            },
          });
        } catch (error) {
          // A failure inside PGlite (not an SQL error, which comes back as ErrorResponse):
          // this connection cannot go on, the others can.
          this.#log(`connection ${connection.id}: PGlite failed: ${error instanceof Error ? error.message : String(error)}`);
          connection.socket.destroy();
          return;
        }
        if (type === 'S' || type === 'Q' || type === '') {
          connection.midExchange = false;
          this.#exchanges += 1;
        } else {
          connection.midExchange = true;
        }
        if (!connection.midExchange && !this.#db.isInTransaction()) {
          this.#release(connection);
        } else {
          this.#armIdle(connection);
        }
      }
    } finally {
      connection.running = false;
    }
  }

  #acquire(connection: Connection): Promise<void> {
    if (this.#owner === connection) return Promise.resolve();
    if (this.#owner === null) {
      this.#owner = connection;
      return Promise.resolve();
    }
    return new Promise((resume) => this.#waiters.push({ connection, resume }));
  }

  #release(connection: Connection): void {
    if (this.#owner !== connection) return;
    this.#clearIdle(connection);
    const next = this.#waiters.shift();
    this.#owner = next ? next.connection : null;
    next?.resume();
  }

  #armIdle(connection: Connection): void {
    this.#clearIdle(connection);
    const timeout = this.#options.idleHoldTimeoutMs ?? 120_000;
    connection.idleTimer = setTimeout(() => {
      this.#log(`connection ${connection.id} held the database for ${timeout} ms without sending anything (idle in transaction); closing it`);
      connection.socket.destroy();
    }, timeout);
    connection.idleTimer.unref();
  }

  #clearIdle(connection: Connection): void {
    if (connection.idleTimer) clearTimeout(connection.idleTimer);
    connection.idleTimer = undefined;
  }

  async #closed(connection: Connection): Promise<void> {
    if (connection.closed) return;
    connection.closed = true;
    this.#clearIdle(connection);
    const waiting = this.#waiters.findIndex((waiter) => waiter.connection === connection);
    if (waiting >= 0) {
      // Let it through so that its #drain loop sees `closed` and stops.
      const [waiter] = this.#waiters.splice(waiting, 1);
      waiter?.resume();
    }
    // Wait for a message still running on this connection, then undo what it left open.
    while (connection.running && this.#owner === connection) await new Promise((resolve) => setTimeout(resolve, 5));
    if (this.#owner === connection) {
      try {
        if (connection.midExchange) await this.#db.execProtocolRaw(syncMessage());
        if (this.#db.isInTransaction()) await this.#db.exec('ROLLBACK');
      } catch (error) {
        this.#log(`connection ${connection.id}: cleanup failed: ${error instanceof Error ? error.message : String(error)}`);
      }
      this.#release(connection);
    }
    this.#connections.delete(connection);
  }
}

function syncMessage(): Uint8Array {
  const message = Buffer.alloc(5);
  message.write('S', 0, 'latin1');
  message.writeInt32BE(4, 1);
  return message;
}

/** A socket folder short enough for sockaddr_un: `<preferred>` when it fits, else one under /tmp. */
export function socketDirFor(preferred: string, port = 5432): string {
  return `${preferred}/.s.PGSQL.${port}`.length <= 100 ? preferred : `/tmp/strata-${process.getuid?.() ?? 'u'}-${hashPath(dirname(preferred))}`;
}

function hashPath(path: string): string {
  let h = 2166136261;
  for (let i = 0; i < path.length; i++) h = Math.imul(h ^ path.charCodeAt(i), 16777619) >>> 0;
  return h.toString(36);
}
