/**
 * @strata/api: Strata's GraphQL API, its job worker and the embedded database server, for
 * `strata serve`, `strata worker` and `strata token` (apps/cli) and for tests.
 */
export { serve } from './serve.js';
export type { ServeHandle, ServeOptions } from './serve.js';
export { startApiServer } from './http/server.js';
export type { ApiServer, ApiServerOptions } from './http/server.js';
export { startWorker } from './jobs/worker.js';
export type { WorkerHandle, WorkerOptions } from './jobs/worker.js';
export { loadEnv } from './env.js';
export type { Env } from './env.js';
export { databaseUrlFor, openApiStore } from './db/connect.js';
export { runningEmbeddedDatabase } from './db/embedded-info.js';
export type { EmbeddedInfo } from './db/embedded-info.js';
export { startEmbeddedDatabase } from './db/embedded.js';
export type { EmbeddedDatabase } from './db/embedded.js';
export { PgliteWireServer } from './db/pglite-wire-server.js';
export type { WireServerOptions, WireServerStats } from './db/pglite-wire-server.js';
