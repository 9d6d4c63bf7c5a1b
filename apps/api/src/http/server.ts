/**
 * The API's HTTP server: node:http with Apollo Server 5's executeHTTPGraphQLRequest (the
 * integration point Apollo's own startStandaloneServer uses; express is not needed), plus the
 * plain routes GraphQL is no good at:
 *
 *   POST|GET /graphql   GraphQL (Bearer token)
 *   GET /files/...      images, thumbnails, mosaics, atlases (./files.ts)
 *   POST /uploads       raw file uploads (./uploads.ts)
 *   GET /healthz        up when the database answers (./health.ts), no token
 *
 * It holds no database of its own: the store is a Postgres connection pool (to a server, or to
 * the embedded PGlite process), so a slow query never blocks this event loop.
 */
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { join } from 'node:path';
import { ApolloServer, HeaderMap } from '@apollo/server';
import { ApolloServerPluginDrainHttpServer } from '@apollo/server/plugin/drainHttpServer';
import { ApolloServerPluginLandingPageDisabled } from '@apollo/server/plugin/disabled';
import { GraphQLError } from 'graphql';
import { ensureApiSchema, openStore, sharedSecret, type Store } from '@strata/core/store';
import { createContext, type ApiContext } from '../context.js';
import type { Env } from '../env.js';
import { isDatabaseUnavailable } from '../db/unavailable.js';
import { apiError, formatError, toApiError } from '../errors.js';
import { JobQueue } from '../jobs/queue.js';
import { resolvers } from '../resolvers/index.js';
import { Authenticator } from '../services/authenticator.js';
import { ImportRoots } from '../services/import-roots.js';
import type { ApiServices } from '../services/index.js';
import { MapReader } from '../services/maps.js';
import { ModelRegistry } from '../services/models.js';
import { SimilarImages } from '../services/similar-images.js';
import { UrlSigner } from '../services/url-signer.js';
import { createQueryLimitRule } from '../validation/query-limits.js';
import { FileRoutes } from './files.js';
import { HealthCheck } from './health.js';
import { bearerToken, HttpError, readBody, sendError, sendJson } from './respond.js';
import { handleUpload } from './uploads.js';
import { MAX_K, MAX_LIMIT } from '../resolvers/helpers.js';

export const SCHEMA_PATH = new URL('../../schema.graphql', import.meta.url);

/** Tokens of a query's text; a query within the cost limit has well under this many. */
const MAX_QUERY_TOKENS = 100_000;
/** Introspection budget: about 3 times what the standard introspection query costs here (350,000). */
const MAX_INTROSPECTION_COST = 1_000_000;

export interface ApiServerOptions {
  readonly env: Env;
  readonly databaseUrl: string;
  readonly dataDir: string;
  readonly port?: number;
  readonly host?: string;
  readonly log?: (line: string) => void;
}

export interface ApiServer {
  /** http://host:port */
  readonly url: string;
  readonly port: number;
  readonly services: ApiServices;
  close(): Promise<void>;
}

function originOf(env: Env, req: IncomingMessage): string {
  if (env.STRATA_PUBLIC_URL) return env.STRATA_PUBLIC_URL.replace(/\/+$/, '');
  const forwarded = req.headers['x-forwarded-proto'];
  const scheme = typeof forwarded === 'string' && /^https?$/.test(forwarded) ? forwarded : 'http';
  return `${scheme}://${req.headers.host ?? 'localhost'}`;
}

export async function startApiServer(options: ApiServerOptions): Promise<ApiServer> {
  const { env } = options;
  const log = options.log ?? ((line: string) => process.stderr.write(`${line}\n`));
  const store: Store = await openStore({ databaseUrl: options.databaseUrl, dataDir: options.dataDir });
  let queue: JobQueue;
  try {
    await ensureApiSchema(store);
    queue = await JobQueue.start(store, { databaseUrl: options.databaseUrl, retryLimit: env.STRATA_JOB_RETRY_LIMIT, log });
  } catch (error) {
    await store.close().catch(() => undefined);
    throw error;
  }
  const services: ApiServices = {
    env,
    store,
    auth: new Authenticator(store),
    queue,
    models: new ModelRegistry(env.STRATA_MODELS),
    importRoots: new ImportRoots(env.STRATA_IMPORT_ROOTS),
    signer: new UrlSigner(await sharedSecret(store, 'file-url-hmac'), env.STRATA_SIGNED_URL_SECONDS),
    similar: new SimilarImages(store, { maxPixels: env.STRATA_MAX_UPLOAD_PIXELS, concurrency: env.STRATA_SIMILAR_CONCURRENCY, maxWaiting: env.STRATA_SIMILAR_QUEUE }),
    maps: new MapReader(store),
    uploadDir: join(store.layout.root, 'uploads'),
    log,
  };
  const files = new FileRoutes(services);
  const health = new HealthCheck(store, { log });
  const httpServer: Server = createServer();
  // Longer than clients keep idle connections, so that a request never meets a socket the
  // server is closing at that moment.
  httpServer.keepAliveTimeout = 65_000;
  httpServer.headersTimeout = 66_000;
  const apollo = new ApolloServer<ApiContext>({
    typeDefs: readFileSync(SCHEMA_PATH, 'utf8'),
    resolvers,
    introspection: true,
    includeStacktraceInErrorResponses: false,
    validationRules: [
      createQueryLimitRule({
        maxDepth: env.STRATA_MAX_QUERY_DEPTH,
        maxCost: env.STRATA_MAX_QUERY_COST,
        argumentMaxima: { limit: MAX_LIMIT, k: MAX_K },
        defaultListSize: 20,
        maxIntrospectionCost: MAX_INTROSPECTION_COST,
      }),
    ],
    // A query's text is parsed before any rule sees it: a cap on its tokens keeps a huge one cheap
    // to refuse. Inline base64 uploads are one token each (or variables).
    parseOptions: { maxTokens: MAX_QUERY_TOKENS },
    formatError: (formatted, error) => formatError(formatted, error, log),
    plugins: [ApolloServerPluginDrainHttpServer({ httpServer }), ApolloServerPluginLandingPageDisabled()],
  });
  await apollo.start();

  // JSON requests carry base64 images: room for the largest inline upload.
  const graphqlBodyLimit = Math.max(1 << 20, Math.ceil((env.STRATA_MAX_UPLOAD_BYTES * 4) / 3) + (64 << 10));

  const graphql = async (req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> => {
    let body: unknown;
    if (req.method === 'POST') {
      const raw = await readBody(req, graphqlBodyLimit);
      const type = req.headers['content-type'] ?? '';
      if (/^application\/(graphql-response\+)?json/i.test(type)) {
        try {
          body = raw.length === 0 ? undefined : JSON.parse(raw.toString('utf8'));
        } catch {
          throw new HttpError('BAD_REQUEST', 'the request body is not valid JSON');
        }
      } else {
        body = raw.toString('utf8');
      }
    }
    const headers = new HeaderMap();
    for (const [key, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers.set(key, Array.isArray(value) ? value.join(', ') : value);
    }
    const response = await apollo.executeHTTPGraphQLRequest({
      httpGraphQLRequest: { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body },
      context: async () => {
        const token = bearerToken(req);
        if (!token) throw apiError('UNAUTHENTICATED', 'send your API token as `Authorization: Bearer <token>` (create one with `strata token create`)');
        // A database outage is DATABASE_UNAVAILABLE (503), not an internal error.
        const principal = await services.auth.fromToken(token).catch((error: unknown) => {
          throw isDatabaseUnavailable(error) ? toApiError(error) : error;
        });
        if (!principal) throw apiError('UNAUTHENTICATED', 'the bearer token is unknown or revoked');
        return createContext(services, principal, originOf(env, req));
      },
    });
    for (const [key, value] of response.headers) res.setHeader(key, value);
    if (response.status === 401) res.setHeader('www-authenticate', 'Bearer realm="strata"');
    res.statusCode = response.status ?? 200;
    if (response.body.kind === 'complete') {
      res.end(response.body.string);
      return;
    }
    for await (const chunk of response.body.asyncIterator) res.write(chunk);
    res.end();
  };

  httpServer.on('request', (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost');
    if (env.STRATA_CORS_ORIGIN) {
      res.setHeader('access-control-allow-origin', env.STRATA_CORS_ORIGIN);
      res.setHeader('vary', 'origin');
      if (req.method === 'OPTIONS') {
        res.writeHead(204, {
          'access-control-allow-methods': 'GET, POST, OPTIONS',
          'access-control-allow-headers': 'authorization, content-type, apollo-require-preflight',
          'access-control-max-age': '600',
        });
        res.end();
        return;
      }
    }
    const route = async (): Promise<void> => {
      if (url.pathname === '/graphql') return graphql(req, res, url);
      if (url.pathname === '/healthz') {
        const { status, report } = await health.check();
        return sendJson(res, status, report, { 'cache-control': 'no-store' });
      }
      if (url.pathname.startsWith('/files/')) return files.handle(req, res, url);
      if (url.pathname === '/uploads') return handleUpload(services, req, res, url);
      throw new HttpError('NOT_FOUND', `no route ${url.pathname}; the API is at /graphql`);
    };
    route().catch((error: unknown) => {
      if (error instanceof HttpError) return sendError(res, error);
      const converted = error instanceof GraphQLError ? error : toApiError(error);
      const code = String(converted.extensions.code);
      if (code === 'INTERNAL_SERVER_ERROR') log(`${req.method} ${url.pathname}: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
      sendError(res, new HttpError(code as HttpError['code'], converted.message));
    });
  });

  const port = await new Promise<number>((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(options.port ?? env.STRATA_API_PORT, options.host ?? env.STRATA_API_HOST, () => {
      const address = httpServer.address();
      resolve(typeof address === 'object' && address ? address.port : 0);
    });
  });
  const host = options.host ?? env.STRATA_API_HOST;
  const url = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  let closed = false;
  return {
    url,
    port,
    services,
    async close() {
      if (closed) return;
      closed = true;
      await apollo.stop();
      await files.close();
      await services.similar.close();
      await queue.close().catch(() => undefined);
      await store.close();
    },
  };
}
