/**
 * The API's and the worker's configuration: parsed once from the environment with zod, here and
 * nowhere else. Command-line flags (`strata serve --port`) override it through ApiOptions.
 * docs/deploy.md lists every variable.
 */
import { basename, resolve } from 'node:path';
import { z } from 'zod';
import type { ExecutionProvider } from '@strata/core/jobs';
import { defaultDataDir } from '@strata/core/store';

const MIB = 1024 * 1024;

const integer = (fallback: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(fallback);
const seconds = (fallback: number) => z.coerce.number().positive().max(7 * 24 * 3600).default(fallback);

const pathList = z
  .string()
  .optional()
  .transform((text) =>
    (text ?? '')
      .split(':')
      .map((item) => item.trim())
      .filter((item) => item !== '')
      .map((item) => resolve(item)),
  );

/** `name=path,name=path` or plain paths (named after the file). */
const modelList = z
  .string()
  .optional()
  .transform((text, ctx) => {
    const models: { name: string; path: string }[] = [];
    for (const item of (text ?? '').split(',').map((part) => part.trim()).filter((part) => part !== '')) {
      const eq = item.indexOf('=');
      const name = eq > 0 ? item.slice(0, eq).trim() : basename(item).replace(/\.onnx$/i, '');
      const path = resolve(eq > 0 ? item.slice(eq + 1).trim() : item);
      if (!/^[A-Za-z0-9._-]+$/.test(name)) {
        ctx.addIssue({ code: 'custom', message: `model name "${name}" must be letters, digits, '.', '_', '-'` });
        return z.NEVER;
      }
      if (models.some((model) => model.name === name)) {
        ctx.addIssue({ code: 'custom', message: `model name "${name}" is given twice` });
        return z.NEVER;
      }
      models.push({ name, path });
    }
    return models;
  });

/** Listed here rather than imported: @strata/core/model would load onnxruntime into the API process. */
const DEVICES = ['cpu', 'cuda'] as const satisfies readonly ExecutionProvider[];

const EnvSchema = z.object({
  DATABASE_URL: z
    .string()
    .regex(/^postgres(ql)?:\/\//, 'must be a postgres:// or postgresql:// URL')
    .optional(),
  STRATA_API_HOST: z.string().default('127.0.0.1'),
  STRATA_API_PORT: integer(4000, 0, 65535),
  /** Base URL for the links the API hands out (signed file URLs); default: from each request's Host. */
  STRATA_PUBLIC_URL: z.url().optional(),
  STRATA_IMPORT_ROOTS: pathList,
  STRATA_MODELS: modelList,
  STRATA_MAX_UPLOAD_BYTES: integer(16 * MIB, 1024, 1024 * MIB),
  STRATA_MAX_DATASET_UPLOAD_BYTES: integer(2048 * MIB, MIB, 1024 * 1024 * MIB),
  STRATA_MAX_UPLOAD_PIXELS: integer(40_000_000, 1024, 178_956_970),
  STRATA_MAX_QUERY_DEPTH: integer(10, 3, 50),
  STRATA_MAX_QUERY_COST: integer(20_000, 100, 10_000_000),
  STRATA_SIGNED_URL_SECONDS: seconds(3600),
  STRATA_SIMILAR_CONCURRENCY: integer(1, 1, 64),
  STRATA_SIMILAR_QUEUE: integer(8, 0, 1000),
  STRATA_WORKERS: integer(1, 0, 64),
  STRATA_WORKER_THREADS: z.coerce.number().int().min(1).max(256).optional(),
  /** Where workers run the model for extractions; a worker with `cuda` and no CUDA stops at start. */
  STRATA_WORKER_DEVICE: z.enum(DEVICES).default('cpu'),
  STRATA_WORKER_POLL_SECONDS: z.coerce.number().min(0.5).max(60).default(1),
  STRATA_WORKER_HEARTBEAT_SECONDS: z.coerce.number().min(0.5).max(600).default(5),
  STRATA_WORKER_STALE_SECONDS: z.coerce.number().min(1).max(3600).default(60),
  STRATA_JOB_RETRY_LIMIT: integer(3, 0, 100),
  STRATA_CORS_ORIGIN: z.string().optional(),
  STRATA_DEBUG: z.string().optional(),
});

export type Env = z.infer<typeof EnvSchema> & { readonly dataDir: string };

let parsed: Env | undefined;

/** The environment, parsed on first use; a bad value is one error naming every bad variable. */
export function loadEnv(source: Readonly<Record<string, string | undefined>> = process.env): Env {
  if (parsed && source === process.env) return parsed;
  // An empty variable counts as unset and gets its default: docker compose passes `${VAR:-}`
  // as "", and `STRATA_API_PORT=` must not mean port 0.
  const given = Object.fromEntries(Object.entries(source).filter(([, value]) => value !== ''));
  const result = EnvSchema.safeParse(given);
  if (!result.success) {
    const problems = result.error.issues.map((issue) => `${issue.path.join('.') || '(environment)'}: ${issue.message}`);
    throw new TypeError(`bad environment: ${problems.join('; ')}`);
  }
  const env: Env = { ...result.data, dataDir: defaultDataDir(given) };
  if (source === process.env) parsed = env;
  return env;
}

/** The environment for a child process (a worker `strata serve` starts), with overrides. */
export function childEnvironment(overrides: Readonly<Record<string, string>>): NodeJS.ProcessEnv {
  return { ...process.env, ...overrides };
}
