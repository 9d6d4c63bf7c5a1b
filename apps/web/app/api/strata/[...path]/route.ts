/**
 * /api/strata/* -> the Strata API: GraphQL, /files (images, thumbnails, mosaics, atlas sheets)
 * and /uploads, with the login cookie turned into `Authorization: Bearer`. The browser only
 * ever talks to this origin: no CORS, WebGL textures and exported canvases stay untainted, and
 * the token stays out of page scripts. Bodies stream through in both directions.
 */
import { webEnv } from '../../../../env';
import { CLIENT_HEADER, tokenFrom } from '../../../../src/server/session';

export const dynamic = 'force-dynamic';

const ROUTES = /^(graphql|uploads|healthz|files\/.+)$/;
const FORWARD_REQUEST = ['accept', 'content-type', 'content-length', 'if-none-match', 'apollo-require-preflight'];
const FORWARD_RESPONSE = ['content-type', 'content-length', 'etag', 'cache-control', 'last-modified', 'x-content-type-options', 'retry-after'];

function problem(status: number, code: string, message: string): Response {
  return Response.json({ errors: [{ message, extensions: { code } }] }, { status });
}

async function forward(request: Request, context: { params: Promise<{ path: string[] }> }): Promise<Response> {
  const { path } = await context.params;
  const route = path.map((part) => encodeURIComponent(part)).join('/');
  if (!ROUTES.test(path.join('/')) || path.some((part) => part === '.' || part === '..' || part === '')) return problem(404, 'NOT_FOUND', `no API route /${path.join('/')}`);
  const unsafe = request.method !== 'GET' && request.method !== 'HEAD';
  if (unsafe && request.headers.get(CLIENT_HEADER) !== 'web') return problem(403, 'FORBIDDEN', `requests that change things need the ${CLIENT_HEADER}: web header`);
  const headers = new Headers();
  for (const name of FORWARD_REQUEST) {
    const value = request.headers.get(name);
    if (value !== null) headers.set(name, value);
  }
  const token = tokenFrom(request);
  if (token) headers.set('authorization', `Bearer ${token}`);
  const url = `${webEnv().apiUrl}/${route}${new URL(request.url).search}`;
  let response: Response;
  try {
    response = await fetch(url, {
      method: request.method,
      headers,
      body: unsafe ? request.body : null,
      // Node's fetch needs this to stream a request body.
      ...(unsafe ? { duplex: 'half' } : {}),
      cache: 'no-store',
      redirect: 'manual',
      signal: request.signal,
    } as RequestInit);
  } catch (error) {
    if (request.signal.aborted) return new Response(null, { status: 499 });
    return problem(502, 'API_UNREACHABLE', `the Strata API at ${webEnv().apiUrl} cannot be reached (${(error as Error).message})`);
  }
  const out = new Headers();
  for (const name of FORWARD_RESPONSE) {
    const value = response.headers.get(name);
    if (value !== null) out.set(name, value);
  }
  // fetch has already decoded a compressed body; its length no longer matches.
  if (response.headers.get('content-encoding')) out.delete('content-length');
  return new Response(request.method === 'HEAD' ? null : response.body, { status: response.status, headers: out });
}

export const GET = forward;
export const HEAD = forward;
export const POST = forward;
