/**
 * The login cookie: the API token, kept in an httpOnly cookie so page scripts never see it. The
 * /api/strata proxy turns it into `Authorization: Bearer` for the API. Server-only.
 */
import { webEnv } from '../../env';

export const TOKEN_COOKIE = 'strata_token';

/** Requests that change something must carry this header: a cross-site form cannot set it. */
export const CLIENT_HEADER = 'x-strata-client';

export function cookieAttributes(request: Request, maxAgeSeconds: number): string {
  const env = webEnv();
  const https = new URL(request.url).protocol === 'https:' || request.headers.get('x-forwarded-proto') === 'https';
  const secure = env.secureCookie === 'always' || (env.secureCookie === 'auto' && https);
  return `Path=/; HttpOnly; SameSite=Lax; Max-Age=${maxAgeSeconds}${secure ? '; Secure' : ''}`;
}

export function tokenFrom(request: Request): string | null {
  const header = request.headers.get('cookie') ?? '';
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === TOKEN_COOKIE) {
      const value = decodeURIComponent(part.slice(eq + 1).trim());
      return value === '' ? null : value;
    }
  }
  return null;
}

export interface Me {
  readonly user: string;
  readonly role: 'VIEWER' | 'EDITOR' | 'ADMIN';
}

/** Asks the API who a token belongs to: the user, or the API's message when it refuses. */
export async function whoIs(token: string): Promise<{ ok: true; me: Me } | { ok: false; status: number; code: string; message: string }> {
  let response: Response;
  try {
    response = await fetch(`${webEnv().apiUrl}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: '{ me { user role } }' }),
      cache: 'no-store',
    });
  } catch (error) {
    return { ok: false, status: 502, code: 'API_UNREACHABLE', message: `the Strata API at ${webEnv().apiUrl} cannot be reached (${(error as Error).message})` };
  }
  const body = (await response.json().catch(() => null)) as { data?: { me?: Me }; errors?: { message: string; extensions?: { code?: string } }[] } | null;
  const me = body?.data?.me;
  if (me) return { ok: true, me };
  const error = body?.errors?.[0];
  return { ok: false, status: response.status === 200 ? 401 : response.status, code: error?.extensions?.code ?? 'UNAUTHENTICATED', message: error?.message ?? `the API answered ${response.status}` };
}
