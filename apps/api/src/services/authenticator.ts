/**
 * Turns a request's credentials into a principal: a bearer token (looked up by its SHA-256) or
 * a signed file URL (the token id it was made for, which must still be active). Answers are
 * cached for 30 seconds, so a revoked token stops working within half a minute.
 */
import { hashToken, type Principal } from '@strata/core/auth';
import { authenticateToken, tokenIsActive, type Store } from '@strata/core/store';

const TTL_MS = 30_000;
const MAX_ENTRIES = 10_000;

export class Authenticator {
  readonly #store: Store;
  readonly #byToken = new Map<string, { principal: Principal | null; until: number }>();
  readonly #byId = new Map<number, { principal: Principal | null; until: number }>();

  constructor(store: Store) {
    this.#store = store;
  }

  async fromToken(token: string): Promise<Principal | null> {
    const key = hashToken(token);
    const hit = this.#byToken.get(key);
    if (hit && hit.until > Date.now()) return hit.principal;
    const principal = await authenticateToken(this.#store, token);
    remember(this.#byToken, key, principal);
    return principal;
  }

  async fromTokenId(id: number): Promise<Principal | null> {
    const hit = this.#byId.get(id);
    if (hit && hit.until > Date.now()) return hit.principal;
    const principal = await tokenIsActive(this.#store, id);
    remember(this.#byId, id, principal);
    return principal;
  }
}

function remember<K>(cache: Map<K, { principal: Principal | null; until: number }>, key: K, principal: Principal | null): void {
  if (cache.size >= MAX_ENTRIES) cache.clear();
  cache.set(key, { principal, until: Date.now() + TTL_MS });
}
