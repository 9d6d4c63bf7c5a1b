import type { Metadata } from 'next';
import { MapWorkspaceLoader } from '../../../../../src/components/map/MapWorkspaceLoader';
import { numberParam, stringParam } from '../../../../../src/components/map/params';

export const metadata: Metadata = { title: 'Compare layers' };

export default async function ComparePage({ params, searchParams }: { params: Promise<{ id: string }>; searchParams: Promise<Record<string, string | string[] | undefined>> }) {
  const { id } = await params;
  const search = await searchParams;
  return (
    <main id="main" className="wide">
      <MapWorkspaceLoader
        datasetId={id}
        mode="compare"
        initialLayers={[stringParam(search, 'a'), stringParam(search, 'b')]}
        initialPerplexity={numberParam(search, 'perplexity', 1, 1000)}
        seed={numberParam(search, 'seed', 0, 2 ** 31 - 1) ?? 0}
      />
    </main>
  );
}
