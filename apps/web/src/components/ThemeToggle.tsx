'use client';

import { useEffect, useState } from 'react';

type Choice = 'system' | 'light' | 'dark';
const NEXT: Record<Choice, Choice> = { system: 'light', light: 'dark', dark: 'system' };
const LABEL: Record<Choice, string> = { system: 'Theme: system', light: 'Theme: light', dark: 'Theme: dark' };

/** Cycles system -> light -> dark; the choice is kept in localStorage (read before paint by the root layout). */
export function ThemeToggle() {
  const [choice, setChoice] = useState<Choice>('system');
  useEffect(() => {
    const stored = localStorage.getItem('strata-theme');
    if (stored === 'light' || stored === 'dark') setChoice(stored);
  }, []);
  const change = () => {
    const next = NEXT[choice];
    setChoice(next);
    if (next === 'system') {
      localStorage.removeItem('strata-theme');
      document.documentElement.removeAttribute('data-theme');
    } else {
      localStorage.setItem('strata-theme', next);
      document.documentElement.setAttribute('data-theme', next);
    }
    window.dispatchEvent(new Event('strata-theme'));
  };
  return (
    <button type="button" onClick={change} aria-label={`${LABEL[choice]} (change)`} title={LABEL[choice]} data-testid="theme-toggle">
      <span aria-hidden="true">{choice === 'dark' ? '☾' : choice === 'light' ? '☀' : '◐'}</span>
      <span className="small">{choice}</span>
    </button>
  );
}
