import type { Metadata } from 'next';
import { BenchLoader } from '../../src/components/bench/BenchLoader';

export const metadata: Metadata = { title: 'Viewer benchmark' };

/** A synthetic NSD-sized map (no server needed) for measuring frame times: /bench?n=73000. */
export default function BenchPage() {
  return (
    <main id="main" className="wide">
      <BenchLoader />
    </main>
  );
}
