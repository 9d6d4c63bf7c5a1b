/** Parses a command-line integer, naming the option in the error. */
export function parseInteger(text: string, option: string, { min = 0 }: { min?: number } = {}): number {
  const value = Number(text);
  if (!Number.isInteger(value) || value < min) throw new RangeError(`${option} must be an integer >= ${min}, got "${text}"`);
  return value;
}

/** Parses a non-negative number of seconds, naming the option in the error. */
export function parseSeconds(text: string, option: string): number {
  const value = Number(text);
  if (!Number.isFinite(value) || value < 0) throw new RangeError(`${option} must be a number of seconds >= 0, got "${text}"`);
  return value;
}
