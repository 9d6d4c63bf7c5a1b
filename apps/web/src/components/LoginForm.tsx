'use client';

import { useRouter, useSearchParams } from 'next/navigation';
import { useState, type FormEvent } from 'react';
import { CLIENT_HEADERS } from '../api/client';
import { ThemeToggle } from './ThemeToggle';

/** The API token goes to /api/session, which checks it with the API and keeps it in an httpOnly cookie. */
export function LoginForm() {
  const router = useRouter();
  const params = useSearchParams();
  const [token, setToken] = useState('');
  const [error, setError] = useState('');
  const [busy, setBusy] = useState(false);
  const next = params.get('next');
  const target = next && next.startsWith('/') && !next.startsWith('//') ? next : '/datasets';
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    setError('');
    try {
      const response = await fetch('/api/session', { method: 'POST', headers: { 'content-type': 'application/json', ...CLIENT_HEADERS }, body: JSON.stringify({ token }) });
      const body = (await response.json().catch(() => null)) as { error?: { message?: string } } | null;
      if (!response.ok) {
        setError(body?.error?.message ?? `login failed (${response.status})`);
        return;
      }
      router.replace(target);
      router.refresh();
    } catch {
      setError('the web server cannot be reached');
    } finally {
      setBusy(false);
    }
  };
  return (
    <div className="panel">
      <div className="row" style={{ justifyContent: 'space-between' }}>
        <h1>Strata</h1>
        <ThemeToggle />
      </div>
      <p className="muted">
        Log in with an API token. An administrator makes one with <code>strata token create --name you --role editor</code>.
      </p>
      <form onSubmit={submit} noValidate>
        <label htmlFor="token" style={{ display: 'block' }}>
          API token
        </label>
        <input id="token" name="token" type="password" autoComplete="current-password" spellCheck={false} placeholder="strata_…" value={token} onChange={(event) => setToken(event.target.value)} aria-describedby="login-error" required />
        <p id="login-error" className="error-text" role="alert">
          {error}
        </p>
        <button type="submit" className="primary" disabled={busy || token.trim() === ''}>
          {busy ? 'Checking…' : 'Log in'}
        </button>
      </form>
    </div>
  );
}
