/**
 * Readers for the deployment files (docker-compose.yml, .env.example, Dockerfile,
 * .dockerignore), as Docker would read them, for the tests that check them without a Docker
 * engine: the YAML with its merge keys, `${VAR}` interpolation, Dockerfile instructions and
 * .dockerignore matching.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { ROOT } from './helpers.js';

export interface ComposeService {
  readonly image?: string;
  readonly build?: { readonly context?: string; readonly target?: string; readonly args?: Record<string, string> };
  readonly command?: readonly string[];
  readonly entrypoint?: readonly string[];
  readonly environment?: Record<string, string | number | boolean | null>;
  readonly volumes?: readonly string[];
  readonly ports?: readonly string[];
  readonly container_name?: string;
  readonly profiles?: readonly string[];
  readonly depends_on?: Record<string, { readonly condition: string }>;
  readonly healthcheck?: { readonly test: readonly string[] };
  readonly deploy?: { readonly resources?: { readonly reservations?: { readonly devices?: readonly Record<string, unknown>[] } } };
}

export interface ComposeFile {
  readonly services: Record<string, ComposeService>;
  readonly volumes?: Record<string, unknown>;
}

export const composeText = (): string => readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8');

/** docker-compose.yml with its `<<:` merge keys applied, as Compose does. */
export function readCompose(): ComposeFile {
  return parse(composeText(), { merge: true }) as ComposeFile;
}

/** NAME=value lines of .env.example, in order (comments and blank lines skipped). */
export function readEnvExample(): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of readFileSync(join(ROOT, '.env.example'), 'utf8').split('\n')) {
    const match = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line.trim());
    if (match) vars.set(match[1] as string, match[2] as string);
  }
  return vars;
}

const REFERENCE = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?:(:?[-?])([^}]*))?\}/g;

/** The variables a compose text interpolates (not in comment lines; `$${...}` is an escaped dollar). */
export function referencedVariables(text: string): Set<string> {
  const names = new Set<string>();
  const code = text
    .split('\n')
    .filter((line) => !/^\s*#/.test(line))
    .join('\n');
  for (const match of code.replaceAll('$$', '').matchAll(REFERENCE)) names.add(match[1] as string);
  return names;
}

/**
 * Compose's interpolation: ${VAR}, ${VAR:-default}, ${VAR-default}, ${VAR:?error}, ${VAR?error}.
 * With `:`, an empty value counts as unset. Throws the error text of a required variable.
 */
export function interpolate(text: string, vars: ReadonlyMap<string, string>): string {
  return text.replace(REFERENCE, (_whole, name: string, operator: string | undefined, argument: string | undefined) => {
    const value = vars.get(name);
    const unset = value === undefined || (operator?.startsWith(':') === true && value === '');
    if (operator?.endsWith('-')) return unset ? (argument ?? '') : (value as string);
    if (operator?.endsWith('?')) {
      if (unset) throw new Error(`${name}: ${argument ?? 'required'}`);
      return value as string;
    }
    return value ?? '';
  });
}

export interface DockerInstruction {
  readonly line: number;
  readonly keyword: string;
  readonly args: string;
}

/** Dockerfile instructions with continuation lines joined and comments dropped. */
export function readDockerfile(): DockerInstruction[] {
  const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n');
  const out: DockerInstruction[] = [];
  for (let i = 0; i < lines.length; i++) {
    let text = (lines[i] as string).trim();
    if (text === '' || text.startsWith('#')) continue;
    const start = i + 1;
    while (text.endsWith('\\') && i + 1 < lines.length) {
      i += 1;
      const next = (lines[i] as string).trim();
      if (!next.startsWith('#')) text = `${text.slice(0, -1).trimEnd()} ${next}`;
    }
    const match = /^(\S+)\s*(.*)$/.exec(text);
    if (match) out.push({ line: start, keyword: (match[1] as string).toUpperCase(), args: match[2] as string });
  }
  return out;
}

/** A .dockerignore pattern as a regular expression over slash-separated paths. */
function ignoreRegex(pattern: string): RegExp {
  let source = '';
  for (let i = 0; i < pattern.length; i++) {
    const char = pattern[i] as string;
    if (char === '*' && pattern[i + 1] === '*') {
      // `**/` is any number of folders, none included; a final `**` is anything.
      const folders = pattern[i + 2] === '/';
      source += folders ? '(?:.*/)?' : '.*';
      i += folders ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  return new RegExp(`^${source}$`);
}

/**
 * Whether `.dockerignore` keeps `path` out of the build context: the last matching rule wins,
 * and a rule that matches a folder covers everything in it.
 */
export function dockerIgnores(path: string): boolean {
  const rules = readFileSync(join(ROOT, '.dockerignore'), 'utf8')
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'))
    .map((line) => ({ negate: line.startsWith('!'), regex: ignoreRegex(line.replace(/^!/, '').replace(/^\/+|\/+$/g, '')) }));
  const parts = path.split('/');
  const prefixes = parts.map((_, index) => parts.slice(0, index + 1).join('/'));
  let ignored = false;
  for (const rule of rules) {
    if (prefixes.some((prefix) => rule.regex.test(prefix))) ignored = !rule.negate;
  }
  return ignored;
}
