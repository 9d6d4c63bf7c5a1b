/**
 * Errors a store call raises for bad input. Each says what was asked for and what exists or
 * was expected; nothing is written when one is thrown. `code` is stable, for API layers.
 */
export type StoreErrorCode = 'NOT_FOUND' | 'CONFLICT' | 'INVALID' | 'MIGRATION';

export class StoreError extends Error {
  override readonly name: string = 'StoreError';
  constructor(
    readonly code: StoreErrorCode,
    message: string,
  ) {
    super(message);
  }
}

/** An unknown dataset, layer or image. */
export class NotFoundError extends StoreError {
  override readonly name = 'NotFoundError';
  constructor(message: string) {
    super('NOT_FOUND', message);
  }
}

/** The request contradicts what is stored (another model, another PCA size, ...). */
export class ConflictError extends StoreError {
  override readonly name = 'ConflictError';
  constructor(message: string) {
    super('CONFLICT', message);
  }
}

/** Malformed input (a vector of the wrong dimension, a bad k, ...). */
export class InvalidInputError extends StoreError {
  override readonly name = 'InvalidInputError';
  constructor(message: string) {
    super('INVALID', message);
  }
}

/** The database's migrations do not match prisma/migrations. */
export class MigrationError extends StoreError {
  override readonly name = 'MigrationError';
  constructor(message: string) {
    super('MIGRATION', message);
  }
}
