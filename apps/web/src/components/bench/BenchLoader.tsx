'use client';

import dynamic from 'next/dynamic';

const Bench = dynamic(() => import('./Bench').then((module) => module.Bench), { ssr: false, loading: () => <p>Loading the viewer…</p> });

export function BenchLoader() {
  return <Bench />;
}
