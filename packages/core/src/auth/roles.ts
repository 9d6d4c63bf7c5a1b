/**
 * Roles and what they may do. A viewer reads the datasets it can see (its own and those shared
 * with the lab); an editor also creates datasets and starts jobs; an admin sees and changes
 * every dataset. Datasets are private to their owner unless shared with the lab.
 */
export type Role = 'viewer' | 'editor' | 'admin';
export const ROLES: readonly Role[] = ['viewer', 'editor', 'admin'];

const RANK: Readonly<Record<Role, number>> = { viewer: 0, editor: 1, admin: 2 };

export function parseRole(text: string): Role {
  const role = text.trim().toLowerCase();
  if ((ROLES as readonly string[]).includes(role)) return role as Role;
  throw new RangeError(`unknown role "${text}"; expected one of ${ROLES.join(', ')}`);
}

export function hasRole(actual: Role, needed: Role): boolean {
  return RANK[actual] >= RANK[needed];
}

/** Who is asking: the user a token belongs to, and the token's role. */
export interface Principal {
  readonly user: string;
  readonly role: Role;
  readonly tokenId: number;
}

export type Visibility = 'private' | 'lab';

/** A dataset's access: its owner (null for datasets made outside the API) and visibility. */
export interface DatasetAccess {
  readonly owner: string | null;
  readonly visibility: Visibility;
}

/**
 * Datasets made outside the API (`strata ingest` on the server) have no owner and are shared
 * with the lab: whoever runs the server put them there for everyone.
 */
export const UNOWNED_ACCESS: DatasetAccess = Object.freeze({ owner: null, visibility: 'lab' });

export function canRead(principal: Principal, access: DatasetAccess): boolean {
  return principal.role === 'admin' || access.visibility === 'lab' || access.owner === principal.user;
}

/** Changing a dataset (new layers, sharing) is for its owner, if an editor, and for admins. */
export function canModify(principal: Principal, access: DatasetAccess): boolean {
  if (principal.role === 'admin') return true;
  return hasRole(principal.role, 'editor') && access.owner !== null && access.owner === principal.user;
}

/**
 * Derived results (maps, comparisons) of a dataset one can read may be computed by any editor:
 * they add nothing to the dataset itself.
 */
export function canCompute(principal: Principal, access: DatasetAccess): boolean {
  return hasRole(principal.role, 'editor') && canRead(principal, access);
}

const USER_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._@-]{0,63}$/;

export function checkUserName(name: string): string {
  if (!USER_PATTERN.test(name)) {
    throw new RangeError(`user name must be 1-64 characters of letters, digits, '.', '_', '@', '-' (starting with a letter or digit); got "${name}"`);
  }
  return name;
}
