'use client';

import { useCallback, useEffect, useRef, useState } from 'react';
import { gql } from '../api/client';

export interface ApiState<T> {
  readonly data: T | null;
  readonly error: unknown;
  readonly loading: boolean;
  /** Asks again (keeps showing the last data meanwhile). */
  readonly reload: () => void;
}

/**
 * Runs a query when its variables change; `pollMs` asks again on an interval while `poll`
 * (given the latest data) says so. Only the latest answer is kept: a slow earlier one never
 * overwrites a newer one.
 */
export function useApi<T>(query: string | null, variables: Record<string, unknown>, options: { pollMs?: number; poll?: (data: T) => boolean } = {}): ApiState<T> {
  const [data, setData] = useState<T | null>(null);
  const [error, setError] = useState<unknown>(null);
  const [loading, setLoading] = useState(query !== null);
  const [generation, setGeneration] = useState(0);
  const key = JSON.stringify(variables);
  const pollRef = useRef(options.poll);
  pollRef.current = options.poll;
  const reload = useCallback(() => setGeneration((g) => g + 1), []);

  useEffect(() => {
    if (query === null) {
      setLoading(false);
      return undefined;
    }
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const run = async (first: boolean) => {
      if (first) setLoading(true);
      try {
        const result = await gql<T>(query, JSON.parse(key) as Record<string, unknown>, { signal: abort.signal });
        if (abort.signal.aborted) return;
        setData(result);
        setError(null);
        if (options.pollMs && pollRef.current?.(result)) timer = setTimeout(() => void run(false), options.pollMs);
      } catch (caught) {
        if (abort.signal.aborted) return;
        setError(caught);
        if (options.pollMs && !first) timer = setTimeout(() => void run(false), options.pollMs * 2);
      } finally {
        if (!abort.signal.aborted) setLoading(false);
      }
    };
    void run(true);
    return () => {
      abort.abort();
      if (timer) clearTimeout(timer);
    };
  }, [query, key, generation, options.pollMs]);

  return { data, error, loading, reload };
}
