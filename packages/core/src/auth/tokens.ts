/**
 * API tokens: random secrets shown once, stored only as their SHA-256. A token looks like
 * `strata_` + 43 base64url characters (32 random bytes); its first characters after the prefix
 * are kept in clear as a label, so that `strata token list` can tell tokens apart.
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

export const TOKEN_PREFIX = 'strata_';
const TOKEN_PATTERN = /^strata_[A-Za-z0-9_-]{43}$/;

export interface NewToken {
  /** The secret, to show once. */
  readonly token: string;
  /** Lowercase hex SHA-256 of the secret: what the database keeps. */
  readonly sha256: string;
  /** `strata_` and the next 6 characters, for listings. */
  readonly label: string;
}

export function generateToken(): NewToken {
  const token = TOKEN_PREFIX + randomBytes(32).toString('base64url');
  return { token, sha256: hashToken(token), label: tokenLabel(token) };
}

export function hashToken(token: string): string {
  return createHash('sha256').update(token, 'utf8').digest('hex');
}

export function tokenLabel(token: string): string {
  return token.slice(0, TOKEN_PREFIX.length + 6);
}

/** Whether `text` has a token's shape (checked before any database lookup). */
export function looksLikeToken(text: string): boolean {
  return TOKEN_PATTERN.test(text);
}

/** Constant-time comparison of two hex digests of equal length. */
export function sameDigest(a: string, b: string): boolean {
  const x = Buffer.from(a, 'hex');
  const y = Buffer.from(b, 'hex');
  return x.length === y.length && x.length > 0 && timingSafeEqual(x, y);
}
