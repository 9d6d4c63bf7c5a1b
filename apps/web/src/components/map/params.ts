/** Search parameters of the map pages, checked (a bad value is ignored, not an error page). */

type Params = Record<string, string | string[] | undefined>;

export function stringParam(params: Params, name: string): string | null {
  const value = params[name];
  const text = Array.isArray(value) ? value[0] : value;
  return text && /^[A-Za-z0-9_.-]{1,32}$/.test(text) ? text : null;
}

export function numberParam(params: Params, name: string, min: number, max: number): number | null {
  const text = stringParam(params, name);
  const value = text === null ? NaN : Number(text);
  return Number.isFinite(value) && value >= min && value <= max ? value : null;
}
