'use client';

import Link from 'next/link';
import { usePathname, useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { CLIENT_HEADERS } from '../api/client';
import type { Viewer } from '../api/types';
import { ThemeToggle } from './ThemeToggle';

export function Header() {
  const pathname = usePathname();
  const router = useRouter();
  const [me, setMe] = useState<Viewer | null>(null);
  useEffect(() => {
    const abort = new AbortController();
    fetch('/api/session', { signal: abort.signal })
      .then(async (response) => {
        if (response.status === 401) {
          router.replace(`/login?next=${encodeURIComponent(window.location.pathname + window.location.search)}`);
          return;
        }
        const body = (await response.json()) as { me?: Viewer };
        if (body.me) setMe(body.me);
      })
      .catch(() => undefined);
    return () => abort.abort();
  }, [router]);
  const logout = async () => {
    await fetch('/api/session', { method: 'DELETE', headers: CLIENT_HEADERS });
    router.replace('/login');
  };
  return (
    <header className="site-header">
      <Link href="/datasets" className="brand">
        Strata
      </Link>
      <nav aria-label="Main">
        <Link href="/datasets" aria-current={pathname === '/datasets' ? 'page' : undefined}>
          Datasets
        </Link>
      </nav>
      <span className="spacer" />
      <span className="who" aria-live="polite" data-testid="whoami">
        {me ? `${me.user} · ${me.role.toLowerCase()}` : ' '}
      </span>
      <ThemeToggle />
      <button type="button" onClick={logout}>
        Log out
      </button>
    </header>
  );
}
