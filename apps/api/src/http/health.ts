/**
 * GET /healthz, without a token, for load balancers and `docker compose` healthchecks: whether
 * this API process can serve requests, which needs its database to answer. A process whose
 * database is gone reports 503, so that an orchestrator marks it unhealthy instead of routing
 * users to an API that fails every query.
 *
 * The answer says only up or down; why is logged (once per change), not shown to anonymous
 * callers, since database errors name hosts and socket paths.
 */
import type { Store } from '@strata/core/store';

export interface HealthReport {
  readonly ok: boolean;
  readonly backend: Store['backend'];
  readonly database: 'up' | 'down';
}

export interface HealthOptions {
  /** How long `SELECT 1` may take before the database counts as down. Default 3 s. */
  readonly timeoutMs?: number;
  readonly log?: (line: string) => void;
}

export class HealthCheck {
  readonly #timeoutMs: number;
  readonly #log: (line: string) => void;
  #lastUp = true;

  constructor(
    private readonly store: Store,
    options: HealthOptions = {},
  ) {
    this.#timeoutMs = options.timeoutMs ?? 3000;
    this.#log = options.log ?? (() => undefined);
  }

  /** The HTTP status (200 or 503) and the body to send. */
  async check(): Promise<{ status: number; report: HealthReport }> {
    let problem: string | undefined;
    let timer: NodeJS.Timeout | undefined;
    try {
      const timeout = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer to SELECT 1 within ${this.#timeoutMs} ms`)), this.#timeoutMs);
      });
      await Promise.race([this.store.withPrisma((prisma) => prisma.$queryRaw`SELECT 1`), timeout]);
    } catch (error) {
      problem = error instanceof Error ? error.message : String(error);
    } finally {
      clearTimeout(timer);
    }
    const up = problem === undefined;
    if (up !== this.#lastUp) this.#log(up ? 'healthz: the database answers again' : `healthz: the database is down: ${problem}`);
    this.#lastUp = up;
    return { status: up ? 200 : 503, report: { ok: up, backend: this.store.backend, database: up ? 'up' : 'down' } };
  }
}
