/**
 * GraphQL errors with stable `extensions.code`s, and the mapping from the library's errors to
 * them. Messages say what was given and what was expected; clients branch on the code.
 */
import { GraphQLError, type GraphQLFormattedError } from 'graphql';
import { unwrapResolverError } from '@apollo/server/errors';
import { ImageDecodeError } from '@strata/core/image';
import { StoreError } from '@strata/core/store';
import { isDatabaseUnavailable } from './db/unavailable.js';

export type ErrorCode =
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'BAD_USER_INPUT'
  | 'CONFLICT'
  | 'NOT_IMPLEMENTED'
  | 'TOO_MANY_REQUESTS'
  | 'PAYLOAD_TOO_LARGE'
  | 'QUERY_TOO_DEEP'
  | 'QUERY_TOO_COMPLEX'
  | 'DATABASE_UNAVAILABLE'
  | 'INTERNAL_SERVER_ERROR';

const HTTP_STATUS: Partial<Record<ErrorCode, number>> = {
  UNAUTHENTICATED: 401,
  QUERY_TOO_DEEP: 400,
  QUERY_TOO_COMPLEX: 400,
  TOO_MANY_REQUESTS: 429,
  DATABASE_UNAVAILABLE: 503,
};

export function apiError(code: ErrorCode, message: string, extensions: Record<string, unknown> = {}): GraphQLError {
  const status = HTTP_STATUS[code];
  return new GraphQLError(message, { extensions: { code, ...extensions, ...(status ? { http: { status } } : {}) } });
}

export const badInput = (message: string, extensions?: Record<string, unknown>) => apiError('BAD_USER_INPUT', message, extensions);
export const notFound = (message: string) => apiError('NOT_FOUND', message);
export const forbidden = (message: string) => apiError('FORBIDDEN', message);
export const conflict = (message: string) => apiError('CONFLICT', message);

const STORE_CODES: Readonly<Record<string, ErrorCode>> = {
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  INVALID: 'BAD_USER_INPUT',
  MIGRATION: 'INTERNAL_SERVER_ERROR',
};

/** What a client sees while the database is down or restarting; the API recovers by itself. */
export const DATABASE_UNAVAILABLE_MESSAGE = 'the database cannot be reached right now (stopped or restarting); try again in a few seconds';

/** The code for an error the library raised, or null when it is not one we expect. */
export function codeOf(error: unknown): ErrorCode | null {
  if (isDatabaseUnavailable(error)) return 'DATABASE_UNAVAILABLE';
  if (error instanceof StoreError) return STORE_CODES[error.code] ?? null;
  if (error instanceof ImageDecodeError) return 'BAD_USER_INPUT';
  return null;
}

/** Converts a library error into a GraphQLError (for code outside resolvers, e.g. HTTP routes). */
export function toApiError(error: unknown): GraphQLError {
  if (error instanceof GraphQLError) return error;
  const code = codeOf(error);
  if (code === 'DATABASE_UNAVAILABLE') return apiError(code, DATABASE_UNAVAILABLE_MESSAGE);
  if (code && code !== 'INTERNAL_SERVER_ERROR') return apiError(code, (error as Error).message);
  return apiError('INTERNAL_SERVER_ERROR', 'internal error; the server log has the details');
}

/**
 * Apollo's formatError: library errors keep their message under their code; our validation
 * rules' codes survive Apollo's GRAPHQL_VALIDATION_FAILED wrapper; anything unexpected is
 * logged and reported without internals.
 */
export function formatError(formatted: GraphQLFormattedError, error: unknown, log: (line: string) => void): GraphQLFormattedError {
  const original = unwrapResolverError(error);
  if (formatted.extensions?.code === 'GRAPHQL_VALIDATION_FAILED' && original instanceof GraphQLError) {
    // Apollo wraps validation errors and overwrites their code; our rules' codes are in the original.
    const inner = original.originalError instanceof GraphQLError ? original.originalError : null;
    const own = inner?.extensions?.code;
    if (typeof own === 'string' && own !== 'GRAPHQL_VALIDATION_FAILED') {
      const { http: _http, ...extensions } = inner?.extensions ?? {};
      return { ...formatted, extensions: { ...formatted.extensions, ...extensions, code: own } };
    }
  }
  const code = codeOf(original);
  if (code === 'DATABASE_UNAVAILABLE') {
    return { message: DATABASE_UNAVAILABLE_MESSAGE, ...(formatted.locations ? { locations: formatted.locations } : {}), ...(formatted.path ? { path: formatted.path } : {}), extensions: { code } };
  }
  if (code && code !== 'INTERNAL_SERVER_ERROR') {
    return { message: (original as Error).message, ...(formatted.locations ? { locations: formatted.locations } : {}), ...(formatted.path ? { path: formatted.path } : {}), extensions: { code } };
  }
  if (formatted.extensions?.code === 'INTERNAL_SERVER_ERROR') {
    const detail = original instanceof Error ? (original.stack ?? original.message) : String(original);
    log(`internal error at ${formatted.path?.join('.') ?? '(request)'}: ${detail}`);
    return { ...formatted, message: 'internal error; the server log has the details', extensions: { code: 'INTERNAL_SERVER_ERROR' } };
  }
  return formatted;
}
