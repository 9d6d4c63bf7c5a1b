import { DatasetPage } from '../../../../src/components/DatasetPage';

export default async function Page({ params }: { params: Promise<{ id: string }> }) {
  const { id } = await params;
  return (
    <main id="main">
      <DatasetPage id={id} />
    </main>
  );
}
