/**
 * The web app's configuration, parsed once from the environment here and nowhere else. Only the
 * server side (the /api routes that proxy to the GraphQL API) reads it: the browser talks to
 * this app's own origin, so the API's address can change without rebuilding.
 *
 *   STRATA_API_URL        the API `strata serve` runs (default http://127.0.0.1:4000)
 *   STRATA_WEB_SECURE_COOKIE  auto (Secure when the request came over https; default), always, never
 *   STRATA_WEB_COOKIE_DAYS    how long the login cookie lasts (default 30, 1..365)
 */

export type SecureCookie = 'auto' | 'always' | 'never';

export interface WebEnv {
  /** Origin (and optional base path) of the API, without a trailing slash. */
  readonly apiUrl: string;
  readonly secureCookie: SecureCookie;
  readonly cookieMaxAgeSeconds: number;
}

type Source = Readonly<Record<string, string | undefined>>;

function parseApiUrl(text: string | undefined): string {
  const value = (text ?? '').trim() || 'http://127.0.0.1:4000';
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new TypeError(`STRATA_API_URL must be an http(s) URL such as http://127.0.0.1:4000, got "${value}"`);
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw new TypeError(`STRATA_API_URL must use http or https, got "${url.protocol}" in "${value}"`);
  }
  if (url.search || url.hash) throw new TypeError(`STRATA_API_URL must not have a query or fragment, got "${value}"`);
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`;
}

function parseSecure(text: string | undefined): SecureCookie {
  const value = (text ?? 'auto').trim().toLowerCase() || 'auto';
  if (value === 'auto' || value === 'always' || value === 'never') return value;
  throw new TypeError(`STRATA_WEB_SECURE_COOKIE must be auto, always or never, got "${text}"`);
}

function parseDays(text: string | undefined): number {
  const value = (text ?? '').trim() || '30';
  const days = Number(value);
  if (!Number.isInteger(days) || days < 1 || days > 365) throw new RangeError(`STRATA_WEB_COOKIE_DAYS must be an integer from 1 to 365, got "${value}"`);
  return days * 24 * 3600;
}

/** Parses a given environment; throws one error naming every bad variable. */
export function parseWebEnv(source: Source): WebEnv {
  const problems: string[] = [];
  const attempt = <T>(parse: () => T, fallback: T): T => {
    try {
      return parse();
    } catch (error) {
      problems.push((error as Error).message);
      return fallback;
    }
  };
  const env: WebEnv = {
    apiUrl: attempt(() => parseApiUrl(source.STRATA_API_URL), ''),
    secureCookie: attempt(() => parseSecure(source.STRATA_WEB_SECURE_COOKIE), 'auto'),
    cookieMaxAgeSeconds: attempt(() => parseDays(source.STRATA_WEB_COOKIE_DAYS), 0),
  };
  if (problems.length > 0) throw new TypeError(`bad environment: ${problems.join('; ')}`);
  return Object.freeze(env);
}

let parsed: WebEnv | undefined;

/** The process environment, parsed on first use (at request time, not at build time). */
export function webEnv(): WebEnv {
  parsed ??= parseWebEnv(process.env);
  return parsed;
}
