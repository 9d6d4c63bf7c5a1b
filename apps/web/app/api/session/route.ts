/**
 * POST /api/session {token}: checks the token with the API (`me`) and keeps it in an httpOnly
 * cookie. DELETE /api/session logs out. GET tells who is logged in.
 */
import { webEnv } from '../../../env';
import { CLIENT_HEADER, cookieAttributes, TOKEN_COOKIE, tokenFrom, whoIs } from '../../../src/server/session';

export const dynamic = 'force-dynamic';

function problem(status: number, code: string, message: string): Response {
  return Response.json({ error: { code, message } }, { status, headers: { 'cache-control': 'no-store' } });
}

export async function GET(request: Request): Promise<Response> {
  const token = tokenFrom(request);
  if (!token) return problem(401, 'UNAUTHENTICATED', 'not logged in');
  const result = await whoIs(token);
  if (!result.ok) return problem(result.status, result.code, result.message);
  return Response.json({ me: result.me }, { headers: { 'cache-control': 'no-store' } });
}

export async function POST(request: Request): Promise<Response> {
  if (request.headers.get(CLIENT_HEADER) !== 'web') return problem(403, 'FORBIDDEN', `send the ${CLIENT_HEADER}: web header`);
  const body = (await request.json().catch(() => null)) as { token?: unknown } | null;
  const token = typeof body?.token === 'string' ? body.token.trim() : '';
  if (token === '') return problem(400, 'BAD_USER_INPUT', 'paste your API token (made with `strata token create`)');
  if (token.length > 512 || /[\s;,]/.test(token)) return problem(400, 'BAD_USER_INPUT', 'that does not look like an API token (it starts with strata_)');
  const result = await whoIs(token);
  if (!result.ok) return problem(result.status, result.code, result.message);
  const maxAge = webEnv().cookieMaxAgeSeconds;
  return Response.json(
    { me: result.me },
    { headers: { 'set-cookie': `${TOKEN_COOKIE}=${encodeURIComponent(token)}; ${cookieAttributes(request, maxAge)}`, 'cache-control': 'no-store' } },
  );
}

export async function DELETE(request: Request): Promise<Response> {
  if (request.headers.get(CLIENT_HEADER) !== 'web') return problem(403, 'FORBIDDEN', `send the ${CLIENT_HEADER}: web header`);
  return new Response(null, { status: 204, headers: { 'set-cookie': `${TOKEN_COOKIE}=; ${cookieAttributes(request, 0)}` } });
}
