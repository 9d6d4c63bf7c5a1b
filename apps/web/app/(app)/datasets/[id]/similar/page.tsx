import type { Metadata } from 'next';
import { SimilarSearch } from '../../../../../src/components/SimilarSearch';

export const metadata: Metadata = { title: 'Query by image' };

export default async function SimilarPage({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return (
    <main id="main">
      <SimilarSearch datasetId={id} />
    </main>
  );
}
