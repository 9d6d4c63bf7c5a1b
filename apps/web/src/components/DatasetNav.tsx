'use client';

import Link from 'next/link';
import { usePathname } from 'next/navigation';

/** The dataset's sections; the current one is marked for screen readers too. */
export function DatasetNav({ id, name }: { id: string; name: string | null }) {
  const pathname = usePathname();
  const base = `/datasets/${id}`;
  const items = [
    { href: base, label: 'Overview' },
    { href: `${base}/map`, label: 'Map' },
    { href: `${base}/compare`, label: 'Compare layers' },
    { href: `${base}/similar`, label: 'Query by image' },
  ];
  return (
    <div className="row" style={{ marginBottom: '0.5rem', minHeight: 40, flexWrap: 'nowrap' }}>
      {/* The name takes the free space, so the tabs never move when it arrives. */}
      <h1 style={{ margin: 0, flex: 1, minWidth: 0, overflow: 'hidden', textOverflow: 'ellipsis', whiteSpace: 'nowrap' }}>{name ?? '\u00a0'}</h1>
      <nav aria-label="Dataset" className="row" style={{ gap: '0.4rem', flexWrap: 'nowrap' }}>
        {items.map((item) => (
          <Link key={item.href} href={item.href} className="button" aria-current={pathname === item.href ? 'page' : undefined} style={pathname === item.href ? { background: 'var(--panel-2)', fontWeight: 600 } : undefined}>
            {item.label}
          </Link>
        ))}
      </nav>
    </div>
  );
}
