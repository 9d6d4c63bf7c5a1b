/**
 * Whether an error means the database cannot be reached right now (stopped, restarting, the
 * connection cut) rather than that the request was wrong. The API answers those with
 * DATABASE_UNAVAILABLE (503) instead of an internal error, and a worker never fails a job for
 * good because of one: its retry continues once the database is back.
 *
 * The same outage reaches us in several shapes: node's socket errors from `pg`, the server's
 * own FATAL errors (SQLSTATE class 08, 57P01-57P03), `pg`'s "Connection terminated" errors,
 * and Prisma's wrappers of all of these (P1001, P1017, DriverAdapterError kinds), each with the
 * original somewhere in its cause chain.
 */

const SOCKET_CODES = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'ECONNABORTED']);
/** admin_shutdown, crash_shutdown, cannot_connect_now (starting up, shutting down, recovering). */
const SERVER_CODES = new Set(['57P01', '57P02', '57P03']);
/** Can't reach database server, timed out, server has closed the connection. */
const PRISMA_CODES = new Set(['P1001', 'P1002', 'P1017']);
const ADAPTER_KINDS = new Set(['DatabaseNotReachable', 'ConnectionClosed', 'SocketTimeout']);
const MESSAGES =
  /Connection terminated|connection error and is not queryable|Client was closed and is not queryable|terminating connection due to administrator command|the database system is (starting up|shutting down|in recovery mode|not yet accepting connections)|Can't reach database server|Server has closed the connection|connect ECONNREFUSED/i;

export function isDatabaseUnavailable(error: unknown): boolean {
  const seen = new Set<unknown>();
  const pending: unknown[] = [error];
  while (pending.length > 0 && seen.size < 16) {
    const item = pending.pop();
    if (item === null || typeof item !== 'object' || seen.has(item)) continue;
    seen.add(item);
    const record = item as Record<string, unknown>;
    const code = record.code;
    if (typeof code === 'string' && (SOCKET_CODES.has(code) || SERVER_CODES.has(code) || PRISMA_CODES.has(code) || code.startsWith('08'))) return true;
    if (typeof record.kind === 'string' && ADAPTER_KINDS.has(record.kind)) return true;
    if (typeof record.message === 'string' && MESSAGES.test(record.message)) return true;
    // Where the wrappers keep the original: Error.cause, GraphQLError.originalError, Prisma's
    // meta.driverAdapterError, AggregateError.errors (a refused IPv4 and IPv6 connect).
    pending.push(record.cause, record.originalError, (record.meta as Record<string, unknown> | undefined)?.driverAdapterError);
    if (Array.isArray(record.errors)) pending.push(...record.errors);
  }
  return false;
}
