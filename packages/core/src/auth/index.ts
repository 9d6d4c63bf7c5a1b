/**
 * @strata/core/auth: API tokens (random, stored hashed) and the roles and dataset visibility
 * rules of a lab deployment. No I/O here; the tables live in ../store/access-repository.ts.
 */
export { TOKEN_PREFIX, generateToken, hashToken, looksLikeToken, sameDigest, tokenLabel } from './tokens.js';
export type { NewToken } from './tokens.js';
export { ROLES, UNOWNED_ACCESS, canCompute, canModify, canRead, checkUserName, hasRole, parseRole } from './roles.js';
export type { DatasetAccess, Principal, Role, Visibility } from './roles.js';
