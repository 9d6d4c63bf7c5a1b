/**
 * Signed file URLs, for places that cannot send an Authorization header (an <img> tag). A URL
 * carries an expiry, the id of the token it was made for and an HMAC-SHA256 of both and the
 * path under a secret every API process shares (kept in the database). It stops working when
 * it expires or its token is revoked, and it grants only what that token may see.
 *
 * Expiries are rounded up to a multiple of the lifetime, so the same image gets the same URL
 * for a while and browsers can cache it.
 */
import { createHmac, timingSafeEqual } from 'node:crypto';

export interface SignedParams {
  readonly tokenId: number;
  readonly expires: number;
}

export class UrlSigner {
  readonly #secret: Buffer;
  readonly #lifetime: number;

  constructor(secret: Buffer, lifetimeSeconds: number) {
    this.#secret = secret;
    this.#lifetime = Math.max(1, Math.round(lifetimeSeconds));
  }

  #mac(path: string, expires: number, tokenId: number): string {
    return createHmac('sha256', this.#secret).update(`${path}\n${expires}\n${tokenId}`).digest('base64url');
  }

  /** `path?exp=..&t=..&sig=..`, valid for between one and two lifetimes. */
  sign(path: string, tokenId: number, now = Date.now()): string {
    const expires = (Math.floor(now / 1000 / this.#lifetime) + 2) * this.#lifetime;
    return `${path}?exp=${expires}&t=${tokenId}&sig=${this.#mac(path, expires, tokenId)}`;
  }

  /** The token id a signed request speaks for, or null (missing, malformed, wrong, expired). */
  verify(path: string, search: URLSearchParams, now = Date.now()): SignedParams | null {
    const exp = search.get('exp');
    const t = search.get('t');
    const sig = search.get('sig');
    if (!exp || !t || !sig || !/^\d{1,12}$/.test(exp) || !/^\d{1,10}$/.test(t)) return null;
    const expires = Number(exp);
    const tokenId = Number(t);
    if (expires * 1000 < now) return null;
    const expected = Buffer.from(this.#mac(path, expires, tokenId));
    const given = Buffer.from(sig);
    if (expected.length !== given.length || !timingSafeEqual(expected, given)) return null;
    return { tokenId, expires };
  }
}
